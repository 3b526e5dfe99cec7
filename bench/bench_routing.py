"""Benchmark decide(): decisions per second on one core, as agents and rules grow.

    PYTHONPATH=src python bench/bench_routing.py [--seconds 1.0]

Workspace: N agents in teams of 50 with working hours, capacities and loads; a flow
of R rules where every rule tests city + product (most do not match) and sends to a
team by round robin; the lead matches only the rule at 95% of the list. Each decision
feeds its state into the next, as the service does. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from leadgate.domain.agents import Agent, AgentLoad, Candidate
from leadgate.domain.routing import Flow, Roster, decide, parse_flow

NOW = datetime(2026, 1, 14, 10, 0, tzinfo=UTC)
TEAM_SIZE = 50


def make_candidates(n: int) -> list[Candidate]:
    out = []
    for i in range(n):
        agent = Agent(
            key=f"agent{i:05d}", name=f"Agent {i}", teams=(f"team{i // TEAM_SIZE}",),
            languages=("en", "hi") if i % 3 else ("pt",), tier=("senior", "mid", "junior")[i % 3],
            timezone=("Asia/Kolkata", "Europe/Berlin", "America/New_York")[i % 3],
            working_hours={"mon-sun": "00:00-24:00"}, capacity={"open": 50, "daily": 100},
            status="away" if i % 7 == 0 else "available")
        out.append(Candidate(agent, AgentLoad(open_leads=i % 20, assigned={"day": i % 30})))
    return out


def make_flow(rules: int, agents: int) -> Flow:
    teams = max(1, agents // TEAM_SIZE)
    data: dict[str, Any] = {"key": "bench", "rules": [
        {"name": f"rule {i}",
         "when": {"all": [{"field": "city", "eq": f"City{i}"},
                          {"field": "product", "in": ["health", "life"]}]},
         "to": {"team": f"team{i % teams}", "method": "round_robin"}}
        for i in range(rules)], "fallback": {"queue": "unassigned"}}
    return parse_flow(data)


def rate(fn: Callable[[], None], seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while True:
        for _ in range(50):
            fn()
        n += 50
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def measure(agents: int, rules: int, seconds: float) -> tuple[float, ...]:
    cands = make_candidates(agents)
    flow = make_flow(rules, agents)
    lead = {"city": f"City{int(rules * 0.95)}", "product": "health", "country": "IN"}
    state: dict[str, Any] = {}

    def run(pool: Sequence[Candidate], trace: str = "") -> Callable[[], None]:
        def step() -> None:
            nonlocal state
            d = decide(lead, flow, pool, state, NOW)
            assert d.outcome == "assigned"
            state = dict(d.state)
            if trace:
                d.trace.to_dict(compact=trace == "compact")
        return step

    roster = Roster(cands)
    return (rate(run(cands), seconds), rate(run(roster), seconds),
            rate(run(roster, "full"), seconds), rate(run(roster, "compact"), seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--write", action="store_true", help="record in docs/benchmarks.md")
    args = parser.parse_args()
    cases = [(1000, 200), (100, 200), (5000, 200), (1000, 20), (1000, 1000)]
    lines = ["| agents | rules | decisions/s (list) | decisions/s (Roster reused) "
             "| + trace.to_dict() | + trace.to_dict(compact=True) |",
             "|---:|---:|---:|---:|---:|---:|"]
    print("\n".join(lines))
    for agents, rules in cases:
        plain, roster, full, compact = measure(agents, rules, args.seconds)
        lines.append(f"| {agents:,} | {rules:,} | {plain:,.0f} | {roster:,.0f} | {full:,.0f} "
                     f"| {compact:,.0f} |")
        print(lines[-1], flush=True)
    if args.write:
        from report import write_section

        write_section("Routing core: decide() (bench/bench_routing.py)",
                      f"PYTHONPATH=src python bench/bench_routing.py --seconds {args.seconds} "
                      "--write",
                      "Decisions per second of the pure `decide()` on one core; each workspace "
                      "has agents in teams of 50 with working hours, caps and loads, and the "
                      "lead matches only the rule at 95% of the list.\n\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
