-- wrk script for bench/bench_http.py: POST one DISTINCT lead per request.
--
--   wrk -t2 -c32 -d20s --latency --timeout 10s -s bench/post_leads.lua \
--       http://127.0.0.1:8000/v1/leads -- <slot 10-99> <source API key>
--
-- Every request carries a different phone and email, so no lead is a
-- duplicate of another: the phone is "+91 9" followed by 9 digits made of
--   <slot: 2 digits, one per wrk invocation of a bench run>
--   <thread: 1 digit, given by setup()>
--   <counter: 6 digits, per thread>
-- Slots 00-09 are left to the seeded history (bench/history.py), so measured
-- leads never collide with it, nor with each other across threads, wrk
-- processes, warm-ups and cases of one bench run.
--
-- done() prints one line starting with "LEADGATE_WRK " holding a JSON object:
-- completed requests, duration, non-2xx answers counted by response() (and by
-- status code), wrk's own error counters and the latency percentiles (µs) on
-- a fine grid, so that bench_http.py can merge two concurrent wrk processes.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local names = {"Asha", "Ravi", "Meena", "Karan", "Divya", "Rahul", "Sneha", "Vikram",
               "Anita", "Rohan", "Priya", "Arjun", "Kavya", "Nikhil", "Pooja", "Sanjay"}

function init(args)
  local slot = tonumber(args[1])
  key = args[2]
  if slot == nil or slot < 10 or slot > 99 or key == nil then
    error("usage: wrk ... -s post_leads.lua URL -- <slot 10-99> <source API key>")
  end
  if id > 9 then
    error("post_leads.lua supports at most 10 threads per wrk process")
  end
  prefix = string.format("9%02d%d", slot, id)
  headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}
  sent = 0       -- requests built by this thread
  non2xx = 0     -- answers outside 200-299 seen by response()
  wrapped = 0    -- requests past the 6-digit counter (their leads would repeat)
  statuses = {}  -- answers by status code
end

function request()
  local n = sent
  sent = sent + 1
  if n >= 1000000 then
    wrapped = wrapped + 1
    n = n % 1000000
  end
  local digits = string.format("%s%06d", prefix, n)
  local body = string.format(
    '{"first_name":"%s","phone":"+91 %s","city":"Mumbai","product":"health",' ..
    '"email":"lead%s@example.com"}',
    names[n % #names + 1], digits, digits)
  return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

local grid = {}
for i = 1, 199 do grid[#grid + 1] = i * 0.5 end          -- 0.5 .. 99.5
for _, p in ipairs({99.6, 99.7, 99.8, 99.9, 99.95, 99.99}) do grid[#grid + 1] = p end

function done(summary, latency, requests)
  local bad, wraps, built = 0, 0, 0
  local codes = {}
  for _, t in ipairs(threads) do
    bad = bad + t:get("non2xx")
    wraps = wraps + t:get("wrapped")
    built = built + t:get("sent")
    for code, count in pairs(t:get("statuses")) do
      codes[code] = (codes[code] or 0) + count
    end
  end
  local parts = {}
  for code, count in pairs(codes) do
    parts[#parts + 1] = string.format('"%d":%d', code, count)
  end
  local pct = {}
  if summary.requests > 0 then
    for _, p in ipairs(grid) do
      pct[#pct + 1] = string.format("[%g,%d]", p, latency:percentile(p))
    end
    -- wrk's percentile(100) answers 0; the maximum is the 100th percentile
    pct[#pct + 1] = string.format("[100,%d]", latency.max)
  end
  local e = summary.errors
  io.write(string.format(
    'LEADGATE_WRK {"requests":%d,"duration_us":%d,"built":%d,"non2xx":%d,"wrapped":%d,' ..
    '"statuses":{%s},"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d},"latency_min_us":%d,"latency_max_us":%d,"percentiles_us":[%s]}\n',
    summary.requests, summary.duration, built, bad, wraps, table.concat(parts, ","),
    e.connect, e.read, e.write, e.status, e.timeout,
    summary.requests > 0 and latency.min or 0, summary.requests > 0 and latency.max or 0,
    table.concat(pct, ",")))
end
