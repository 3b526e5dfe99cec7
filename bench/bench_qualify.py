"""Benchmark the gatekeeper in process: qualify() throughput and model predict time.

    PYTHONPATH=src python bench/bench_qualify.py [--repeat 3]

Prints a markdown table. Measures normalise + validate + junk checks + enrich
(default steps) + score, one lead at a time on one core, over the demo's
website leads as the HTTP benchmark posts them (bench/post_leads.lua's body: a
distinct phone and email each, fresh leads on every run), over the messy lead
file (a realistic mix of good and bad rows) and over clean demo leads scored
by rules and by the trained model.
"""

from __future__ import annotations

import argparse
import csv
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from leadgate.domain.campaigns import parse_campaign
from leadgate.domain.qualify import qualify
from leadgate.ml import demo_campaign, synthetic_history, train

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2024, 3, 15, 12, tzinfo=UTC)


class _Leaf:
    """Stand-in for leadgate.domain.conditions when it is not installed (eq / gte only)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.field, self.op = data["field"], "eq" if "eq" in data else "gte"
        self.value = data[self.op]

    def evaluate(self, facts: Mapping[str, Any]) -> bool:
        v = facts.get(self.field)
        return bool(v == self.value) if self.op == "eq" else v is not None and v >= self.value


def condition_parser() -> tuple[Callable[..., Any], str]:
    try:
        from leadgate.domain.conditions import parse_condition  # type: ignore[attr-defined]
    except ImportError:
        return (lambda data, **_: _Leaf(data)), "stand-in"
    return parse_condition, "leadgate.domain.conditions"


#: first names of bench/post_leads.lua
WEB_NAMES = ("Asha", "Ravi", "Meena", "Karan", "Divya", "Rahul", "Sneha", "Vikram",
             "Anita", "Rohan", "Priya", "Arjun", "Kavya", "Nikhil", "Pooja", "Sanjay")


def website_leads(n: int, slot: int) -> list[dict[str, str]]:
    """``n`` distinct leads shaped like bench/post_leads.lua's body (slot 10-99)."""
    leads = []
    for i in range(n):
        digits = f"9{slot:02d}0{i:06d}"
        leads.append({"first_name": WEB_NAMES[i % len(WEB_NAMES)], "phone": f"+91 {digits}",
                      "city": "Mumbai", "product": "health",
                      "email": f"lead{digits}@example.com"})
    return leads


def rate(fn: Callable[[], int], repeat: int) -> tuple[float, float]:
    """Best leads/s over ``repeat`` runs, and the median per-lead time in microseconds."""
    rates = []
    for _ in range(repeat):
        started = time.perf_counter()
        n = fn()
        rates.append(n / (time.perf_counter() - started))
    best = max(rates)
    return best, 1e6 / statistics.median(rates)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="record in docs/benchmarks.md")
    args = ap.parse_args()
    parse, parser_name = condition_parser()

    messy = parse_campaign(yaml.safe_load((ROOT / "tests/data/messy_campaign.yaml").read_text()))
    with (ROOT / "tests/data/messy_leads.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    demo = demo_campaign()
    history = synthetic_history(3000, seed=1)
    demo_rows = [{k: (str(v) if not isinstance(v, str) else v) for k, v in values.items()}
                 for values, _ in history[:1000]]
    model = train(history, demo, parse=parse).model

    website = parse_campaign(yaml.safe_load(
        resources.files("leadgate.data").joinpath("demo.yaml").read_text())["campaigns"][0])
    web_runs = iter([website_leads(2000, 11 + i) for i in range(args.repeat)])

    qualify(rows[0], messy, now=NOW)  # warm phonenumbers' lazily loaded data
    qualify(website_leads(1, 10)[0], website, now=NOW)
    results = []
    r, us = rate(lambda: sum(1 for row in next(web_runs)
                             if qualify(row, website, now=NOW)), args.repeat)
    results.append(("qualify, demo website leads (2000 distinct per run, no scoring)", r, us))
    r, us = rate(lambda: sum(1 for row in rows if qualify(row, messy, now=NOW)), args.repeat)
    results.append(("qualify, messy file (580 mixed rows, no scoring)", r, us))
    r, us = rate(lambda: sum(1 for row in demo_rows
                             if qualify(row, demo, now=NOW, parse=parse)), args.repeat)
    results.append(("qualify + rule scoring (1000 clean demo leads)", r, us))
    r, us = rate(lambda: sum(1 for row in demo_rows
                             if qualify(row, demo, now=NOW, model=model)), args.repeat)
    results.append(("qualify + model scoring (1000 clean demo leads)", r, us))
    values = [v for v, _ in history]
    r, us = rate(lambda: sum(1 for v in values if model.predict(v)), args.repeat)
    results.append(("model predict only (3000 leads)", r, us))

    print(f"Python {platform.python_version()} on {platform.machine()}, one core, "
          f"best of {args.repeat}; conditions: {parser_name}\n")
    lines = ["| what | leads/s | µs per lead (median run) |", "| --- | ---: | ---: |"]
    lines += [f"| {name} | {r:,.0f} | {us:,.1f} |" for name, r, us in results]
    scored = train(synthetic_history(4000, seed=2), demo, parse=parse)
    lines += ["", "Learned scoring on a synthetic outcome history (4,000 leads whose conversion "
              "depends on product, home ownership, company size, email kind and country; "
              "the same `train()` that `leadgate score train` runs):", "",
              "| score | held-out AUC |", "| --- | ---: |",
              f"| trained model (logistic regression) | {scored.auc:.3f} |",
              f"| campaign's rule score, same split | {scored.rule_auc:.3f} |",
              "", f"Brier score {scored.brier:.3f}; {scored.n_train} training and "
              f"{scored.n_test} held-out outcomes."]
    print("\n".join(lines))
    if "--write" in sys.argv:
        from report import write_section

        write_section("Qualification and scoring (bench/bench_qualify.py)",
                      "PYTHONPATH=src python bench/bench_qualify.py"
                      + "".join(f" {a}" for a in sys.argv[1:]),
                      "In process, one core, best of the runs; conditions: "
                      f"{parser_name}.\n\n" + "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
