"""The pure routing core: flows, pools, methods and ``decide()``.

    from leadgate.domain.routing import Flow, parse_flow, decide, vocabulary
"""

from leadgate.domain.routing.engine import decide, decide_fallback
from leadgate.domain.routing.flow import (
    DERIVED_FACTS,
    Fallback,
    Flow,
    Rule,
    Target,
    parse_duration,
    parse_flow,
)
from leadgate.domain.routing.methods import METHODS, Context, Method, Pick, register_method
from leadgate.domain.routing.pools import Pool, Roster
from leadgate.domain.routing.vocabulary import vocabulary

__all__ = [
    "DERIVED_FACTS",
    "METHODS",
    "Context",
    "Fallback",
    "Flow",
    "Method",
    "Pick",
    "Pool",
    "Roster",
    "Rule",
    "Target",
    "decide",
    "decide_fallback",
    "parse_duration",
    "parse_flow",
    "register_method",
    "vocabulary",
]
