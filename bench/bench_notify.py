"""Capture-to-notified latency: from the start of ``POST /v1/leads`` until the
``lead.assigned`` notice reaches a client connected to ``GET /v1/events``.

    .venv/bin/python bench/bench_notify.py [--probes 300] [--seconds 20]

While wrk (bench/post_leads.lua) keeps a steady background load on the servers,
a probe client posts leads one at a time and an SSE client records when each
probe's notice arrives. On PostgreSQL the SSE client listens on the OTHER
server process than the one the probes post to, so the notice crosses
processes (LISTEN/NOTIFY). Only 127.0.0.1; every process is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from report import write_section  # noqa: E402
from tests.conftest import (  # noqa: E402
    WEBSITE_KEY,
    apply_setup,
    create_pg_database,
    create_users,
    drop_pg_database,
    make_app,
)
from tests.e2e.servers import Server  # noqa: E402

HEADERS = {"Authorization": f"Bearer {WEBSITE_KEY}", "Content-Type": "application/json"}


def listen(url: str, token: str, arrivals: dict[int, float], ready: threading.Event,
           stop: threading.Event) -> None:
    kind = None
    try:
        with httpx.Client(timeout=httpx.Timeout(30, read=30)) as c, c.stream(
                "GET", f"{url}/v1/events", headers={"Authorization": f"Bearer {token}"}) as r:
            for line in r.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind:
                    if kind == "ready":
                        ready.set()
                    elif kind == "lead.assigned":
                        lead_id = json.loads(line[6:])["lead"]["id"]
                        arrivals.setdefault(lead_id, time.perf_counter())
                    kind = None
    except httpx.HTTPError:
        if not stop.is_set():
            raise


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def run_case(db_url: str, processes: int, args: argparse.Namespace, tmp: Path,
             slot: int) -> dict[str, float]:
    from leadgate.bootstrap import utcnow

    app = make_app(db_url, clock=utcnow)
    apply_setup(app)
    tokens = create_users(app)
    app.close()
    servers = [Server(db_url, log=tmp / f"notify{slot}-{k}.log") for k in range(processes)]
    wrk = None
    stop = threading.Event()
    try:
        post_to, listen_on = servers[0], servers[-1]
        arrivals: dict[int, float] = {}
        ready = threading.Event()
        t = threading.Thread(target=listen, args=(listen_on.url, tokens["manager"], arrivals,
                                                  ready, stop), daemon=True)
        t.start()
        if not ready.wait(15):
            raise RuntimeError("the event stream did not open")
        wrk = subprocess.Popen(
            ["wrk", "-t1", f"-c{args.background}", f"-d{args.seconds}s", "--timeout", "10s",
             "-s", str(ROOT / "bench" / "post_leads.lua"), f"{post_to.url}/v1/leads", "--",
             str(slot), WEBSITE_KEY], stdout=subprocess.PIPE, text=True)
        time.sleep(1.0)
        sent: dict[int, float] = {}
        with httpx.Client(timeout=30) as c:
            for i in range(args.probes):
                body = {"first_name": "Probe", "phone": f"+91 95{slot:02d}{i:06d}",
                        "city": "Mumbai", "product": "health"}
                t0 = time.perf_counter()
                r = c.post(f"{post_to.url}/v1/leads", content=json.dumps(body), headers=HEADERS)
                if r.status_code == 201 and r.json().get("status") == "assigned":
                    sent[r.json()["id"]] = t0
                time.sleep(args.gap)
        out = wrk.communicate(timeout=args.seconds + 30)[0]
        wrk = None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all(i in arrivals for i in sent):
            time.sleep(0.05)
        lat = [1000 * (arrivals[i] - t0) for i, t0 in sent.items() if i in arrivals]
        rate = next((float(line.split()[1]) for line in out.splitlines()
                     if line.startswith("Requests/sec")), 0.0)
        return {"probes": len(sent), "heard": len(lat), "p50": pct(lat, 50),
                "p99": pct(lat, 99), "max": max(lat), "background": rate}
    finally:
        stop.set()
        if wrk is not None:
            wrk.kill()
        for s in servers:
            s.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--probes", type=int, default=300)
    ap.add_argument("--gap", type=float, default=0.02, help="seconds between probes")
    ap.add_argument("--seconds", type=int, default=20, help="background load duration")
    ap.add_argument("--background", type=int, default=8, help="wrk connections")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk (Debian package)")
    tmp = Path(tempfile.mkdtemp(prefix="leadgate-notify-"))
    rows = []
    try:
        rows.append(("SQLite, 1 serve process", run_case(
            f"sqlite:///{tmp / 'notify.db'}", 1, args, tmp, 31)))
        print(rows[-1], flush=True)
        pg = create_pg_database()
        try:
            rows.append(("PostgreSQL, 2 serve processes (notice crosses processes)",
                         run_case(pg, 2, args, tmp, 32)))
            print(rows[-1], flush=True)
        finally:
            drop_pg_database(pg)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    body = [f"A probe posts {args.probes} leads one at a time ({args.gap * 1000:.0f} ms apart) "
            f"while wrk keeps {args.background} connections of other leads going; a client "
            "on `GET /v1/events` (a manager: every notice) records when each probe's "
            "`lead.assigned` arrives. Latency = from the start of the probe's POST to the "
            "notice's arrival. On PostgreSQL the probes go to one server process and the "
            "listener is on the other.", "",
            "| setup | background leads/s | probes | notices heard | p50 ms | p99 ms | max ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in rows:
        body.append(f"| {name} | {r['background']:.0f} | {r['probes']:.0f} | "
                    f"{r['heard']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} |")
    worst = max(r["p99"] for _, r in rows)
    body += ["", f"Goal p99 < 100 ms: **{'met' if worst < 100 else 'missed'}** "
             f"(worst p99 {worst:.1f} ms)."]
    text = "\n".join(body)
    print(text)
    if not args.no_write:
        write_section("Capture to notified (bench/bench_notify.py)",
                      f"python bench/bench_notify.py --probes {args.probes} "
                      f"--seconds {args.seconds} --background {args.background}", text)


if __name__ == "__main__":
    main()
