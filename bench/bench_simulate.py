"""Simulation benchmark: replay 100,000 leads through a draft flow.

    .venv/bin/python bench/bench_simulate.py [--leads 100000] [--write]

The demo workspace (10 agents, 5 rules with round robin, least loaded and
weighted pools, a fallback queue) on a SQLite file; the leads are synthetic
and varied so every rule and the fallback are exercised. Times the same
``services.flows.simulate`` that `leadgate simulate` and the API call.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from report import write_section  # noqa: E402
from tests.conftest import make_app  # noqa: E402

from leadgate.services import configure, flows  # noqa: E402
from leadgate.services.demo import demo_config  # noqa: E402


def leads(n: int) -> list[tuple[dict, datetime, str | None]]:
    rnd = random.Random(1)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        facts = {"first_name": "Lead", "phone": f"+91 98{i:08d}",
                 "country": rnd.choice(["IN", "IN", "BR", "US", "DE"]),
                 "city": rnd.choice(["Mumbai", "Pune", "Delhi", "São Paulo", "Austin"]),
                 "product": rnd.choice(["health", "life"]),
                 "company_size": rnd.choice([5, 50, 200, 2000, 50000])}
        out.append((facts, start + timedelta(seconds=26 * i), None))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leads", type=int, default=100_000)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    db = Path(tempfile.mkdtemp()) / "sim.db"
    app = make_app(f"sqlite:///{db}")
    data, lines = configure.load_yaml(demo_config())
    with app.uow() as uow:
        configure.apply(uow, data, app.clock(), lines=lines)
    history = leads(args.leads)
    with app.reader() as uow:
        flow, _ = flows.flow_for(uow, "insurance", "draft")
        t0 = time.perf_counter()
        report = flows.simulate(uow, flow, history, app.clock())
        elapsed = time.perf_counter() - t0
    app.close()
    body = [f"{args.leads:,} leads replayed through the demo flow in **{elapsed:.1f} s** "
            f"({args.leads / elapsed:,.0f} leads/s, one core).", "",
            "| outcome | leads |", "| --- | ---: |"]
    body += [f"| {k} | {v:,} |" for k, v in sorted(report["outcomes"].items())]
    body += ["", "| rule | leads |", "| --- | ---: |"]
    body += [f"| {k} | {v:,} |" for k, v in report["per_rule"].items()]
    print("\n".join(body))
    if args.write:
        write_section("Simulation (bench/bench_simulate.py)",
                      f"python bench/bench_simulate.py --leads {args.leads} --write",
                      "\n".join(body))


if __name__ == "__main__":
    main()
