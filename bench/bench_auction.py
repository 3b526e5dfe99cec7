"""Ping post auction benchmark: 20 local buyer servers with random latency.

    .venv/bin/python bench/bench_auction.py [--auctions 300] [--threads 8]
        [--timeout-ms 750] [--db sqlite|postgresql] [--no-write] [--summary]
        [--warmup 3] [--cprofile FILE] [--show-statements] [--switch-interval-ms MS]

``--summary`` prints the figures only (and writes nothing); ``--cprofile FILE``
profiles the worker threads' jobs (one profile each, merged into FILE, readable with
``python -m pstats FILE``; timed by each thread's CPU clock, so time spent waiting
for pings, posts, locks or the interpreter lock is not counted);
``--show-statements`` prints the SQL statements of one auction and the count per
auction (counted per worker thread with a ``before_cursor_execute`` listener, BEGINs
included). The first ``--warmup`` jobs
(cold caches and connections) are left out of the figures.

What runs (all on this machine, 127.0.0.1 only):

- a fresh database built by the migrations (SQLite file, or PostgreSQL with ``--db
  postgresql``) with one campaign whose flow sells every lead by ``ping_post`` to 20
  ``price: bid`` buyers; every buyer is its own HTTP/1.1 server (all 20 on one asyncio
  loop in a child process, so they do not compete with leadgate for the bench
  process's interpreter lock) answering
  ``/ping`` after a random latency (uniform 5..``--max-latency-ms``, default 900 ms, so
  most auctions have a buyer answering after the timeout) with a random bid of 1..50,
  and ``/post`` at once with an acceptance;
- ``--auctions`` leads captured first (their ``lead.sell`` jobs queued), then
  ``--threads`` worker threads run the jobs (``jobs.claim`` + ``jobs.run_one``, the
  worker's own functions), so several auctions are in flight at once, sharing the
  process's one pinger event loop.

Measured per auction (from the trace each sale stores and the bench's own clock):

- the ping phase (``ping_ms`` in the trace: from the first ping sent to the last
  answer kept or the timeout), compared with the timeout;
- the job's wall time (``run_one``, claim excluded);
- leadgate's own overhead = wall time - ping phase - the posts to the winners (HTTP
  round trips to the local buyers, the trace's ``post_ms``: as long as the worker
  thread waited for them, the posts being sent together by the pinger's event loop;
  code that posted one at a time has no ``post_ms`` and its ``posts[].ms`` are added
  up): loading the lead and buyers' loads, deciding, reserving the sales (cap, budget,
  exclusivity) and committing the sales, the trace and the timeline;
- CPU: ``time.thread_time()`` of the worker thread around each job, and the CPU time
  of the pinger's event loop thread over the whole drain, per auction;
- statements sent to the database per auction (BEGINs included).

Auctions per second = auctions / wall time of the drain phase.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from report import write_section  # noqa: E402
from sqlalchemy import event, select  # noqa: E402
from tests.conftest import apply_setup  # noqa: E402

from leadgate.bootstrap import App, bootstrap, freeze_heap  # noqa: E402
from leadgate.config import Settings  # noqa: E402
from leadgate.delivery.market import pinger  # noqa: E402
from leadgate.services import jobs  # noqa: E402
from leadgate.services.ingest import ingest_lead  # noqa: E402
from leadgate.store import market as mk  # noqa: E402
from leadgate.store import models as m  # noqa: E402

TITLE = "Ping post auction (bench/bench_auction.py)"
BUYERS = 20


def serve_buyers(n: int, max_latency: float, seed: int, ports: Any, stop: Any) -> None:
    """In a child process: ``n`` buyers, each a minimal HTTP/1.1 keep-alive server on
    one asyncio loop (no thread per request: simulated latency is an ``asyncio.sleep``
    and answers are not held up by the interpreter lock). Ports go to ``ports``."""
    import asyncio

    rng = random.Random(seed)

    async def handle(key: str, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                if head.split(b" ", 2)[1].endswith(b"/ping"):
                    await asyncio.sleep(rng.uniform(0.005, max_latency))
                    body = json.dumps({"bid": round(rng.uniform(1, 50), 2),
                                       "bid_id": f"{key}-{time.monotonic_ns()}"}).encode()
                else:
                    body = json.dumps({"result": "accepted", "id": key}).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
                             + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError,
                asyncio.CancelledError):  # the client gave up, or the bench ends
            pass
        finally:
            writer.close()

    async def main() -> None:
        servers, urls = [], []
        for i in range(n):
            key = f"b{i:02d}"
            srv = await asyncio.start_server(
                lambda r, w, key=key: handle(key, r, w), "127.0.0.1", 0, backlog=512)
            servers.append(srv)
            urls.append(f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}")
        ports.put(urls)
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)

    asyncio.run(main())


@contextmanager
def buyer_process(n: int, max_latency: float, seed: int) -> Iterator[list[str]]:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    ports, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=serve_buyers, args=(n, max_latency, seed, ports, stop),
                       daemon=True)
    proc.start()
    try:
        yield ports.get(timeout=60)
    finally:
        stop.set()
        proc.join(10)
        if proc.is_alive():
            proc.kill()


def setup_text(urls: dict[str, str], timeout_ms: int) -> str:
    keys = sorted(urls)
    dests = "\n".join(
        f"  - {{key: {k}-ping, kind: http, url: '{u}/ping', timeout: 5, "
        f"response: {{price: {{json: bid}}, external_id: {{json: bid_id}}}}}}\n"
        f"  - {{key: {k}-post, kind: http, url: '{u}/post', timeout: 5}}"
        for k, u in sorted(urls.items()))
    buyers = "\n".join(f"  - {{key: {k}, price: bid, ping: {k}-ping, destinations: "
                       f"[{k}-post], sale: {{shared: 2}}}}" for k in keys)
    return f"""
campaigns:
  - key: market
    name: Market
    fields:
      first_name: {{type: string, required: true}}
      phone: {{type: phone, required: true}}
      state: {{type: string}}
      age: {{type: integer}}
    default_region: IN
    flow: market
sources:
  - {{key: web, name: Web, campaign: market, api_key: lg_src_bench_auction_key_00000}}
destinations:
{dests}
buyers:
{buyers}
market: {{margin: {{percent: 10}}}}
flows:
  - key: market
    rules:
      - name: Auction
        to: {{method: ping_post, buyers: [{", ".join(keys)}], timeout: {timeout_ms}ms}}
    fallback: {{queue: unsold}}
"""


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


@contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as d:
            yield f"sqlite:///{d}/bench.db"
        return
    from bench_http import pg_database

    with pg_database("auction") as url:
        yield url


def run(args: argparse.Namespace) -> dict[str, Any]:
    with ExitStack() as stack:
        served = stack.enter_context(buyer_process(BUYERS, args.max_latency_ms / 1000,
                                                   args.seed))
        urls = {f"b{i:02d}": u for i, u in enumerate(served)}
        url = stack.enter_context(database(args.db))
        app: App = bootstrap(Settings(database_url=url, environment="test",
                                      embedded_worker=False, pool_size=args.threads + 4),
                             migrate=True)
        stack.callback(app.close)
        apply_setup(app, setup_text(urls, args.timeout_ms))
        with app.uow() as uow:
            source = uow.session.scalar(select(m.Source).where(m.Source.key == "web"))
        for i in range(args.auctions):
            with app.uow() as uow:
                res = ingest_lead(uow, source, {"first_name": "Asha",
                                                "phone": f"+91 98{i:08d}", "state": "CA",
                                                "age": 30}, app.clock())
            assert res.status_code == 201, res.body
        walls: dict[int, float] = {}
        cpus: dict[int, float] = {}
        statements: dict[int, list[str]] = {}
        profiles: list[cProfile.Profile] = []
        lock = threading.Lock()
        local = threading.local()

        def count(conn: Any, cursor: Any, stmt: str, *rest: Any) -> None:
            seen = getattr(local, "seen", None)
            if seen is not None:
                seen.append(stmt)

        def on_begin(conn: Any) -> None:  # psycopg's BEGIN is not a cursor execute
            count(conn, None, "BEGIN (implicit)")

        # SQLite's BEGIN is sent by leadgate itself (store/db.py): the listener sees it
        implicit_begin = app.engine.dialect.name != "sqlite"
        if args.show_statements:
            event.listen(app.engine, "before_cursor_execute", count)
            if implicit_begin:
                event.listen(app.engine, "begin", on_begin)

        def worker() -> None:
            prof = cProfile.Profile(time.thread_time) if args.cprofile else None
            while True:
                with app.uow() as uow:
                    ids = jobs.claim(uow, app.clock(), limit=1)
                if not ids:
                    break
                local.seen = [] if args.show_statements else None
                if prof is not None:
                    prof.enable()
                t0, c0 = time.perf_counter(), time.thread_time()
                status = jobs.run_one(app.uow, ids[0], app.clock)
                c1, t1 = time.thread_time(), time.perf_counter()
                seen, local.seen = local.seen, None  # the next claim is not the job's
                if prof is not None:
                    prof.disable()
                with lock:
                    walls[ids[0]] = (t1 - t0) * 1000
                    cpus[ids[0]] = (c1 - c0) * 1000
                    if seen is not None:
                        statements[ids[0]] = seen
                assert status == "done", status
            if prof is not None:
                with lock:
                    profiles.append(prof)

        # the pinger's event loop thread (started by the first ping) and its CPU clock
        ping_cpu = PingerCpu()
        if args.gc_freeze:  # what the worker command does after starting up
            freeze_heap()
        if args.gc_off:  # a diagnosis: is what is left above the timeout the collector?
            gc.disable()
        pauses = GcPauses()
        loop_prof = cProfile.Profile(time.thread_time) if args.cprofile else None
        if loop_prof is not None:  # the pinger's event loop thread, profiled in place
            on_loop(loop_prof.enable)
        start = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(args.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        drain_s = time.perf_counter() - start
        pinger_cpu_ms = ping_cpu.used_ms()
        pauses.stop()
        gc.enable()
        if loop_prof is not None:
            on_loop(loop_prof.disable)
            loop_prof.dump_stats(args.cprofile + ".pinger")
        if args.show_statements:
            event.remove(app.engine, "before_cursor_execute", count)
            if implicit_begin:
                event.remove(app.engine, "begin", on_begin)
        if profiles:
            import pstats

            stats = pstats.Stats(profiles[0])
            for prof in profiles[1:]:
                stats.add(prof)
            stats.dump_stats(args.cprofile)
        with app.reader() as uow:
            rows = list(uow.session.scalars(select(mk.MarketLead)))
            traces = {r.lead_id: r.trace for r in rows}
            sold = sum(1 for r in rows if r.sales)  # leads sold at least once
            jobs_by_lead = {j.payload["lead_id"]: j.id for j in uow.session.scalars(
                select(m.Job).where(m.Job.kind == "lead.sell"))}
    ping, over, wall, cpu, late, counts = [], [], [], [], 0, []
    kept = set(sorted(walls)[args.warmup:])
    for lead_id, trace in traces.items():
        if not trace:
            continue
        job = jobs_by_lead[lead_id]
        w = walls.get(job)
        if w is None or job not in kept:
            continue
        if job in statements:
            counts.append(len(statements[job]))
        # the time the job waited for its posts (posts sent at once overlap: the trace's
        # post_ms; a trace without it, from older code, posted one at a time)
        post_ms = (float(trace["post_ms"]) if "post_ms" in trace else
                   sum(float(p.get("ms") or 0) for p in trace.get("posts") or []))
        ping.append(float(trace["ping_ms"]))
        wall.append(w)
        cpu.append(cpus[job])
        over.append(w - float(trace["ping_ms"]) - post_ms)
        late += sum(1 for b in trace["buyers"] if b["status"] == "no_answer")
    return {"auctions": len(wall), "sold": sold, "threads": args.threads,
            "timeout_ms": args.timeout_ms, "max_latency_ms": args.max_latency_ms,
            "db": args.db, "per_s": len(wall) / drain_s, "drain_s": drain_s,
            "ping": {p: pct(ping, p) for p in (50, 90, 99)} | {"max": max(ping)},
            "wall": {p: pct(wall, p) for p in (50, 99)},
            "overhead": {p: pct(over, p) for p in (50, 90, 99)} |
                        {"mean": statistics.fmean(over)},
            "cpu": {p: pct(cpu, p) for p in (50, 90, 99)} | {"mean": statistics.fmean(cpu)},
            "no_answer_per_auction": late / max(1, len(wall)),
            "pinger_cpu_per_auction": pinger_cpu_ms / max(1, len(walls)),
            "gc": pauses.summary(), "gc_freeze": args.gc_freeze, "gc_off": args.gc_off,
            "switch_ms": sys.getswitchinterval() * 1000,
            "statements": ({p: pct(counts, p) for p in (0, 50, 100)} if counts else None),
            "one_auction": (statements[max(kept)] if statements and kept else None),
            "load": os.getloadavg()[0]}


class GcPauses:
    """The cyclic garbage collector's pauses during the drain (every thread waits for
    the interpreter lock while one collects), per generation."""

    def __init__(self) -> None:
        self.ms: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._t0 = 0.0
        gc.callbacks.append(self._cb)

    def _cb(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.ms[info["generation"]].append((time.perf_counter() - self._t0) * 1000)

    def stop(self) -> None:
        gc.callbacks.remove(self._cb)

    def summary(self) -> dict[int, tuple[int, float, float]]:
        """generation -> (collections, total ms, longest ms)"""
        return {g: (len(v), sum(v), max(v, default=0.0)) for g, v in self.ms.items()}


def on_loop(fn: Any) -> None:
    """Run ``fn`` in the pinger's event loop thread and wait for it."""
    import asyncio

    async def call() -> None:
        fn()

    asyncio.run_coroutine_threadsafe(call(), pinger()._start()).result(10)


class PingerCpu:
    """CPU time of the pinger's event loop thread (started here if not yet running)."""

    def __init__(self) -> None:
        pinger()._start()
        self.thread = next(t for t in threading.enumerate() if t.name == "leadgate-pinger")
        self.start = self._now()

    def _now(self) -> float:
        ident = self.thread.native_id
        try:
            return time.clock_gettime(time.pthread_getcpuclockid(self.thread.ident or 0))
        except (AttributeError, OSError):  # not Linux: /proc, or nothing
            try:
                stat = Path(f"/proc/self/task/{ident}/stat").read_text().rsplit(")", 1)[1]
                f = stat.split()
                return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
            except (OSError, IndexError, ValueError):
                return 0.0

    def used_ms(self) -> float:
        return (self._now() - self.start) * 1000


def render(r: dict[str, Any], summary: bool = False) -> str:
    t = r["timeout_ms"]
    p, o, w, c = r["ping"], r["overhead"], r["wall"], r["cpu"]
    rows = [
        "| measure | value |", "| --- | --- |",
        f"| auctions per second ({r['threads']} worker threads, {r['auctions']} auctions, "
        f"{r['sold']} sold) | **{r['per_s']:.1f}** |",
        f"| ping phase vs the {t} ms timeout, p50 | {p[50]:.1f} ms (timeout + "
        f"{p[50] - t:.1f} ms) |",
        f"| p90 | {p[90]:.1f} ms (timeout + {p[90] - t:.1f} ms) |",
        f"| p99 | **{p[99]:.1f} ms (timeout + {p[99] - t:.1f} ms)** |",
        f"| max | {p['max']:.1f} ms (timeout + {p['max'] - t:.1f} ms) |",
        f"| whole job (claim excluded), p50 / p99 | {w[50]:.1f} / {w[99]:.1f} ms |",
        f"| leadgate's own overhead per auction, p50 | **{o[50]:.2f} ms** |",
        f"| p90 / p99 / mean | {o[90]:.2f} / {o[99]:.2f} / {o['mean']:.2f} ms |",
        f"| CPU time of the worker thread per auction (posts built and waited for), p50 | "
        f"**{c[50]:.2f} ms** |",
        f"| p90 / p99 / mean | {c[90]:.2f} / {c[99]:.2f} / {c['mean']:.2f} ms |",
        f"| CPU time of the pinger's event loop thread per auction (pings and posts) | "
        f"{r['pinger_cpu_per_auction']:.2f} ms |",
        f"| buyers not answering within the timeout, per auction | "
        f"{r['no_answer_per_auction']:.1f} of 20 |",
    ]
    gcs = r["gc"]
    rows.append("| garbage collector pauses in the run (gen 0 / 1 / 2: count, longest) | "
                + " / ".join(f"{gcs[g][0]}, {gcs[g][2]:.1f} ms" for g in (0, 1, 2))
                + (" (heap frozen after start-up)" if r["gc_freeze"] else "")
                + (" (collector off during the jobs)" if r["gc_off"] else "") + " |")
    if abs(r.get("switch_ms", 5.0) - 5.0) > 1e-9:  # a diagnosis run: say so
        rows.append(f"| interpreter thread switch interval (not the default 5 ms) | "
                    f"{r['switch_ms']:g} ms |")
    if r["statements"]:
        st = r["statements"]
        rows.append(f"| statements per auction (BEGINs included), p50 (min..max) | "
                    f"{st[50]} ({st[0]}..{st[100]}) |")
    if summary:
        return "\n".join(rows) + "\n"
    return (
        f"{'SQLite file' if r['db'] == 'sqlite' else 'PostgreSQL 127.0.0.1'}, a fresh "
        "database; 20 `price: bid` buyers, each its own HTTP server (asyncio, in a child "
        "process) answering a "
        f"ping after a random 5..{r['max_latency_ms']} ms with a bid of 1..50 (so nearly "
        "every auction has buyers answering after the timeout) and a post at once; the "
        f"jobs run in {r['threads']} threads of the bench process with the worker's own "
        "`jobs.claim` / `jobs.run_one`. Load average "
        f"{r['load']:.1f} when the run ended (2 cores shared with other work).\n\n"
        + "\n".join(rows) + "\n\n"
        "Overhead = the job's wall time - the ping phase - the wait for the posts to the "
        "winners (the trace's `post_ms`: a shared lead's posts go out together): reading "
        "the lead, the buyers and their loads, the eligibility checks, `decide_auction`, "
        "the reservations (conditional UPDATEs for caps, budgets and exclusivity) and the "
        "commits of the sales, the trace and the timeline; on a loaded machine it also holds "
        "the time the worker thread waited for a core (or for the interpreter lock, held "
        "by the pinger's event loop closing cancelled pings). The CPU time row is "
        "`time.thread_time()` of the worker thread over the job: the work leadgate itself "
        "does per auction, whatever the load, except the posts' I/O, which the pinger's "
        "event loop does (its CPU is the next row). The ping phase ends when every "
        "buyer answered or at the timeout, whichever is first (pending pings are "
        "cancelled); the figures above the timeout are the event loop's wake-up and the "
        "hand-back to the worker thread.\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--auctions", type=int, default=300)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--timeout-ms", type=int, default=750)
    p.add_argument("--max-latency-ms", type=int, default=900)
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--no-write", action="store_true", help="print, do not touch the docs")
    p.add_argument("--summary", action="store_true",
                   help="print the figures only (implies --no-write)")
    p.add_argument("--warmup", type=int, default=3,
                   help="first jobs left out of the figures (cold caches)")
    p.add_argument("--cprofile", metavar="FILE", help="profile the worker threads' jobs")
    p.add_argument("--gc-freeze", action=argparse.BooleanOptionalAction, default=True,
                   help="freeze the start-up heap out of the garbage collector, as the "
                        "worker command does (--no-gc-freeze: as before)")
    p.add_argument("--switch-interval-ms", type=float, default=None,
                   help="diagnosis: the interpreter's thread switch interval during the "
                        "run (sys.setswitchinterval; default: Python's 5 ms)")
    p.add_argument("--gc-off", action="store_true",
                   help="diagnosis: no cyclic garbage collection during the jobs")
    p.add_argument("--show-statements", action="store_true",
                   help="count the SQL statements per auction and print one auction's")
    args = p.parse_args()
    if args.switch_interval_ms is not None:
        sys.setswitchinterval(args.switch_interval_ms / 1000)
    result = run(args)
    body = render(result, summary=args.summary)
    print(body)
    if args.show_statements and result["one_auction"]:
        print(f"one auction's {len(result['one_auction'])} statements:")
        for stmt in result["one_auction"]:
            print("  " + " ".join(stmt.split())[:160])
    if args.cprofile:
        print(f"profiles written to {args.cprofile} (worker threads) and "
              f"{args.cprofile}.pinger (the pinger's event loop)")
    if not args.no_write and not args.summary:
        command = "python bench/bench_auction.py " + " ".join(sys.argv[1:])
        write_section(TITLE, command.strip(), body)
        print("written to docs/benchmarks.md")


if __name__ == "__main__":
    main()
