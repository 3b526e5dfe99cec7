"""The routing vocabulary as data, for a console rule editor."""

from __future__ import annotations

from typing import Any

from leadgate.domain.conditions import OPERATORS
from leadgate.domain.routing.eligibility import REASONS
from leadgate.domain.routing.flow import DERIVED_FACTS, WHEN_NOBODY
from leadgate.domain.routing.methods import METHODS
from leadgate.domain.routing.pools import POOL_KINDS, SELECTOR_ATTRIBUTES

__all__ = ["vocabulary"]


def vocabulary() -> dict[str, Any]:
    """JSON-able description of operators, methods, reasons, pools and lead facts."""
    return {
        "operators": {op: {"operand": kind, "description": text}
                      for op, (kind, text) in OPERATORS.items()},
        "composites": {
            "all": "every listed condition holds",
            "any": "at least one listed condition holds",
            "not": "the condition does not hold",
        },
        "methods": {name: m.describe() for name, m in sorted(METHODS.items())},
        "eligibility_reasons": dict(REASONS),
        "pool_kinds": dict(POOL_KINDS),
        "selector_attributes": dict(SELECTOR_ATTRIBUTES),
        "lead_facts": dict(DERIVED_FACTS),
        "when_nobody": dict(WHEN_NOBODY),
        "outcomes": ["assigned", "offered", "queued", "delivering", "sell", "unassigned"],
    }
