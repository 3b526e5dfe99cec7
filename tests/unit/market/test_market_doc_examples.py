from __future__ import annotations

import re
from pathlib import Path

import yaml

from leadgate.domain.market.buyer_config import parse_buyer
from leadgate.domain.market.money import ReturnRules

DOC = Path(__file__).resolve().parents[3] / "docs" / "marketplace.md"


def _yaml_blocks() -> list[dict[str, object]]:
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", DOC.read_text(),
                                                  re.DOTALL)]


def test_marketplace_doc_buyer_examples_parse_and_round_trip() -> None:
    buyers = next(b["buyers"] for b in _yaml_blocks() if "buyers" in b)
    assert isinstance(buyers, list) and len(buyers) == 2
    for i, data in enumerate(buyers):
        b = parse_buyer(data, path=f"buyers[{i}]")
        assert parse_buyer(b.to_mapping()) == b


def test_marketplace_doc_return_rules_example_parses() -> None:
    data = next(b["returns"] for b in _yaml_blocks() if "returns" in b)
    rules = ReturnRules.parse(data)
    assert rules.reasons["fraud"] == "review" and rules.max_rate == 0.25
