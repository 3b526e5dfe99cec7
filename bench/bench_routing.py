"""Benchmark decide() and storing its trace, on one core, as agents and rules grow.

    PYTHONPATH=src python bench/bench_routing.py [--seconds 1.0] [--write]

Workspace: N agents in teams of 50 with working hours, capacities and loads (every 7th
away); a flow of R rules where every rule tests city + product (most do not match) and
sends to a team by round robin; the lead matches only the rule at 95% of the list. Each
decision feeds its state into the next, as the service does.

Columns:
* decisions/s: ``decide()`` with a plain list of candidates, then with a reused Roster;
* stored trace/s: for those same decisions, what the service stores -
  ``json.dumps(decision.trace.to_dict(compact=True))``;
* full trace/s: ``json.dumps(decision.trace.to_dict())`` (the flow tester's form), for
  comparison.

Rates are per CPU-second of this process (``time.process_time``), the best of several
slices of ``--seconds`` in total: the machines here are shared, and CPU time is what
"one core" means; other processes' load still slows it somewhat (shared caches).
``--write`` records the table in docs/benchmarks.md with machine, command and date.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from leadgate.domain.agents import Agent, AgentLoad, Candidate
from leadgate.domain.decision import Decision
from leadgate.domain.routing import Flow, Roster, decide, parse_flow

NOW = datetime(2026, 1, 14, 10, 0, tzinfo=UTC)
TEAM_SIZE = 50
SLICES = 5
BATCH = 50


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


def cpu_rate(run: Callable[[int], float], seconds: float) -> float:
    """Operations per CPU-second: the best of SLICES slices. ``run(n)`` does n operations
    and returns the CPU seconds they took (setup excluded)."""
    n, spent = 50, 0.0
    while spent < seconds / SLICES / 4:  # size a slice
        spent = run(n)
        n *= 2
    n = max(50, int(n / 2 * seconds / SLICES / max(spent, 1e-9)))
    return max(n / run(n) for _ in range(SLICES))


class Bench:
    """One workspace: a flow, its candidates, a lead and the routing state carried along."""

    def __init__(self, agents: int, rules: int) -> None:
        self.cands = make_candidates(agents)
        self.roster = Roster(self.cands)
        self.flow = make_flow(rules, agents)
        self.lead = {"city": f"City{int(rules * 0.95)}", "product": "health", "country": "IN"}
        self.state: dict[str, Any] = {}

    def step(self, pool: Sequence[Candidate]) -> Decision:
        d = decide(self.lead, self.flow, pool, self.state, NOW)
        assert d.outcome == "assigned"
        self.state = dict(d.state)
        return d

    def deciding(self, pool: Sequence[Candidate]) -> Callable[[int], float]:
        def run(n: int) -> float:
            start = time.process_time()
            for _ in range(n):
                self.step(pool)
            return time.process_time() - start
        return run

    def storing(self, compact: bool) -> Callable[[int], float]:
        """Serialise the traces of n fresh decisions, a batch of BATCH at a time right
        after deciding them, as the service does (only the serialising is timed)."""
        def run(n: int) -> float:
            spent = 0.0
            for _ in range(max(1, n // BATCH)):
                decisions = [self.step(self.roster) for _ in range(BATCH)]
                start = time.process_time()
                for d in decisions:
                    json.dumps(d.trace.to_dict(compact=compact))
                spent += time.process_time() - start
            return spent * n / (max(1, n // BATCH) * BATCH)
        return run


def measure(agents: int, rules: int, seconds: float) -> tuple[float, ...]:
    b = Bench(agents, rules)
    return (cpu_rate(b.deciding(b.cands), seconds), cpu_rate(b.deciding(b.roster), seconds),
            cpu_rate(b.storing(True), seconds), cpu_rate(b.storing(False), seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="CPU seconds per measurement (split into slices)")
    parser.add_argument("--write", action="store_true", help="record in docs/benchmarks.md")
    args = parser.parse_args()
    cases = [(1000, 200), (100, 200), (5000, 200), (1000, 20), (1000, 1000)]
    lines = ["| agents | rules | decisions/s (list) | decisions/s (Roster reused) "
             "| stored trace/s: json.dumps(to_dict(compact=True)) "
             "| full trace/s: json.dumps(to_dict()) |",
             "|---:|---:|---:|---:|---:|---:|"]
    print("\n".join(lines))
    for agents, rules in cases:
        plain, roster, stored, full = measure(agents, rules, args.seconds)
        lines.append(f"| {agents:,} | {rules:,} | {plain:,.0f} | {roster:,.0f} | {stored:,.0f} "
                     f"| {full:,.0f} |")
        print(lines[-1], flush=True)
    if args.write:
        from report import write_section

        write_section(
            "Routing core: decide() (bench/bench_routing.py)",
            f"PYTHONPATH=src python bench/bench_routing.py --seconds {args.seconds} --write",
            "Operations per CPU-second of one process (best of "
            f"{SLICES} slices; the machine is shared with other work). Each workspace has "
            "agents in teams of 50 with working hours, caps and loads; the lead matches "
            "only the rule at 95% of the list (round robin over a team of 50). "
            "*Stored trace* is what the service stores with each routed lead, serialised "
            "for the same decisions: `json.dumps(trace.to_dict(compact=True))`; *full "
            "trace* is the flow tester's `json.dumps(trace.to_dict())`.\n\n"
            + "\n".join(lines))


if __name__ == "__main__":
    main()
