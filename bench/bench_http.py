"""HTTP capture benchmark: leads/s and latency through real `leadgate serve`
processes on SQLite and PostgreSQL, against pgbench's one-row-insert ceiling.

    .venv/bin/python bench/bench_http.py [--leads 3000] [--clients 32]

Each lead goes the whole way: auth, qualify, dedupe, route (round robin over
4 agents) and commit, before its 201. The load generator runs on the same
2-core machine, so the figures are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from report import write_section  # noqa: E402
from tests.conftest import WEBSITE_KEY, apply_setup, make_app  # noqa: E402
from tests.e2e.servers import Server  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


NAMES = ["Asha", "Ravi", "Meena", "Karan", "Divya", "Rahul", "Sneha", "Vikram", "Anita", "Rohan"]


def lead(i: int, run: str, base: int) -> dict[str, str]:
    return {"first_name": NAMES[i % len(NAMES)], "phone": f"+91 97{base + i:08d}", "city": "Mumbai",
            "product": "health", "email": f"b{i}.{run}@example.com"}


async def load(urls: list[str], n: int, clients: int, base: int = 0
               ) -> tuple[float, list[float], int]:
    run = uuid.uuid4().hex[:6]
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    headers = {"Authorization": f"Bearer {WEBSITE_KEY}"}

    async def client_loop(c: httpx.AsyncClient, url: str) -> None:
        nonlocal errors
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            t0 = time.perf_counter()
            r = await c.post(f"{url}/v1/leads", json=lead(i, run, base), headers=headers)
            latencies.append(time.perf_counter() - t0)
            if r.status_code != 201:
                errors += 1

    async with httpx.AsyncClient(timeout=60,
                                 limits=httpx.Limits(max_connections=clients)) as c:
        t0 = time.perf_counter()
        await asyncio.gather(*(client_loop(c, urls[k % len(urls)]) for k in range(clients)))
        elapsed = time.perf_counter() - t0
    return elapsed, latencies, errors


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def run_case(db_url: str, n: int, clients: int, processes: int, tmp: Path) -> dict[str, float]:
    app = make_app(db_url)
    apply_setup(app)
    app.close()
    servers = [Server(db_url, log=tmp / f"bench{k}.log") for k in range(processes)]
    try:
        asyncio.run(load([s.url for s in servers], min(200, n), clients, 5_000_000))  # warm-up
        elapsed, lat, errors = asyncio.run(load([s.url for s in servers], n, clients))
    finally:
        for s in servers:
            s.stop()
    return {"leads_s": n / elapsed, "p50": pct(lat, 50), "p99": pct(lat, 99),
            "errors": errors, "n": n}


def pgbench_tps(db_url: str, clients: int, seconds: int = 10) -> float:
    eng = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    with eng.begin() as c:
        c.execute(text("CREATE TABLE IF NOT EXISTS bench_insert "
                       "(id bigserial primary key, payload jsonb, created_at timestamptz)"))
    eng.dispose()
    script = Path(tempfile.mkstemp(suffix=".sql")[1])
    script.write_text("INSERT INTO bench_insert (payload, created_at) "
                      "VALUES ('{\"first_name\": \"x\"}', now());\n")
    dbname = db_url.rsplit("/", 1)[1]
    out = subprocess.run(
        ["pgbench", "-n", "-h", "127.0.0.1", "-U", "postgres", "-c", str(clients), "-j", "2",
         "-T", str(seconds), "-f", str(script), dbname],
        capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("tps"):
            return float(line.split("=")[1].split()[0])
    raise RuntimeError(f"pgbench printed no tps:\n{out}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leads", type=int, default=3000)
    ap.add_argument("--clients", type=int, default=32)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="leadgate-bench-"))
    rows = []
    from tests.conftest import create_pg_database, drop_pg_database

    sqlite_url = f"sqlite:///{tmp / 'bench.db'}"
    r = run_case(sqlite_url, args.leads, args.clients, 1, tmp)
    rows.append(("SQLite (WAL), 1 serve process", r))
    print(rows[-1], flush=True)
    pg = create_pg_database()
    try:
        r = run_case(pg, args.leads, args.clients, 2, tmp)
        rows.append(("PostgreSQL, 2 serve processes", r))
        print(rows[-1], flush=True)
        tps = pgbench_tps(pg, args.clients)
    finally:
        drop_pg_database(pg)
    shutil.rmtree(tmp, ignore_errors=True)
    pg_rate = rows[-1][1]["leads_s"]
    body = ["| setup | leads | clients | leads/s | p50 ms | p99 ms | non-201 |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in rows:
        body.append(f"| {name} | {r['n']} | {args.clients} | {r['leads_s']:.0f} | "
                    f"{r['p50']:.1f} | {r['p99']:.1f} | {r['errors']} |")
    body.append("")
    body.append(f"pgbench, one-row INSERT (jsonb + timestamp) per transaction, {args.clients} "
                f"clients, 10 s, same machine: **{tps:.0f} TPS**.")
    body.append("")
    body.append(f"Ratio, leadgate on PostgreSQL to pgbench's insert ceiling: "
                f"**{pg_rate / tps:.4f}** ({pg_rate:.0f} / {tps:.0f}, "
                f"{100 * pg_rate / tps:.2f} %). A lead costs one "
                "transaction of about twenty statements (auth lookup, lead, events, dedupe "
                "keys, routing lock, assignment, outbox job) plus qualification in Python, "
                "and the load generator shares the 2 cores.")
    write_section("HTTP capture (bench/bench_http.py)",
                  f"python bench/bench_http.py --leads {args.leads} --clients {args.clients}",
                  "\n".join(body))
    print("\n".join(body))


if __name__ == "__main__":
    main()
