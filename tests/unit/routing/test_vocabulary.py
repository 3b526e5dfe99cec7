from __future__ import annotations

import json

from leadgate.domain.conditions import OPERATORS
from leadgate.domain.routing import vocabulary
from leadgate.domain.routing.eligibility import REASONS


def test_vocabulary_exports_operators_methods_reasons_pools_and_facts() -> None:
    v = vocabulary()
    json.dumps(v)
    assert set(v["operators"]) == set(OPERATORS)
    assert v["operators"]["between"]["operand"] == "range"
    assert set(v["methods"]) == {"round_robin", "weighted", "least_loaded", "performance",
                                 "quality_match", "specialist", "shotgun", "pull", "deliver",
                                 "ping_tree", "ping_post", "sell_weighted"}
    assert "weights" in v["methods"]["weighted"]["options"]
    assert v["methods"]["ping_post"]["needs_pool"] is False
    assert v["eligibility_reasons"] == REASONS
    assert {"team", "agents", "agent", "agent_field"} == set(v["pool_kinds"])
    assert "territories" in v["selector_attributes"]
    assert {"local_hour", "grade", "region"} <= set(v["lead_facts"])
    assert set(v["when_nobody"]) == {"next", "hold", "fallback"}


def test_every_method_example_is_a_valid_target() -> None:
    from routing_factories import flow

    for name, m in vocabulary()["methods"].items():
        extra = {"deliver": ["crm"]} if name == "deliver" else {}  # it needs destinations
        f = flow({"name": name, "to": m["example"], **extra})
        assert f.rules[0].target.method == name
