"""The interface every distribution method implements, and the registry of methods."""

from __future__ import annotations

from abc import ABC, abstractmethod
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from leadgate.domain.agents import Candidate
from leadgate.domain.errors import InvalidFlow
from leadgate.domain.routing.eligibility import check
from leadgate.domain.routing.pools import Pool

__all__ = ["METHODS", "Context", "Method", "Pick", "get_method", "register_method"]


class Context:
    """Everything a method may look at to choose (all plain data).

    Eligibility is checked lazily and memoised per agent, so a method that needs only
    the next eligible agent in a ring (round robin) checks only the agents it passes.
    """

    __slots__ = ("_eligible", "_local", "_reasons", "blocked", "flow", "lead", "members", "now",
                 "options", "rule", "state")

    def __init__(self, *, lead: Mapping[str, Any], members: Sequence[Candidate],
                 state: Mapping[str, Any], options: Mapping[str, Any], now: datetime,
                 flow: str | None = None, rule: str | None = None) -> None:
        self.lead = lead
        # the whole pool, sorted by agent key (a roster's cached tuple is used as is)
        self.members = members if isinstance(members, tuple) else tuple(members)
        self.state = state                  # this pool's sub-state (JSON-able)
        self.options = options              # validated options of the target
        self.now = now
        self.flow = flow
        self.rule = rule
        self._reasons: dict[str, tuple[Candidate, tuple[str, ...]]] = {}
        self._eligible: tuple[Candidate, ...] | None = None
        self._local: dict[str, datetime] = {}  # ``now`` in each agent time zone met
        self.blocked = 0  # how many members checked so far were not eligible

    def reasons(self, c: Candidate) -> tuple[str, ...]:
        """Why ``c`` is not eligible (empty when eligible); memoised."""
        key = c.agent.key
        hit = self._reasons.get(key)
        if hit is None:
            found = check(c, self.now, self._local)
            self._reasons[key] = (c, found)
            if found:
                self.blocked += 1
            return found
        return hit[1]

    def is_eligible(self, c: Candidate) -> bool:
        """True when ``c`` can take the lead now."""
        return not self.reasons(c)

    def seen(self, key: str) -> Candidate | None:
        """The member with this key if it has been checked."""
        hit = self._reasons.get(key)
        return hit[0] if hit else None

    def checked(self) -> dict[str, tuple[Candidate, tuple[str, ...]]]:
        """Members checked so far with their reasons, by agent key."""
        return dict(self._reasons)

    def checked_view(self) -> Mapping[str, tuple[Candidate, tuple[str, ...]]]:
        """Like :meth:`checked` without the copy: the live memo, in the order checked.

        Read it, do not change it.
        """
        return self._reasons

    @property
    def eligible(self) -> tuple[Candidate, ...]:
        """Eligible members, sorted by agent key (checks everyone)."""
        if self._eligible is None:
            self._eligible = tuple(c for c in self.members if not self.reasons(c))
        return self._eligible


@dataclass(frozen=True, init=False)
class Pick:
    """A method's choice. ``outcome`` None means it could not place the lead.

    ``__init__`` is written by hand with the generated one's signature: the generated
    frozen one sets each field through ``object.__setattr__``, slow on the hot path.
    """

    outcome: str | None
    agent: str | None = None
    agents: tuple[str, ...] = ()
    queue: str | None = None
    state: Mapping[str, Any] | None = None    # new sub-state; None keeps the old one
    arithmetic: Mapping[str, Any] = field(default_factory=dict)
    why: str = ""                             # e.g. "was next in rotation"

    def __init__(self, outcome: str | None, agent: str | None = None,
                 agents: tuple[str, ...] = (), queue: str | None = None,
                 state: Mapping[str, Any] | None = None,
                 arithmetic: Mapping[str, Any] | None = None, why: str = "") -> None:
        object.__setattr__(self, "__dict__", {
            "outcome": outcome, "agent": agent, "agents": agents, "queue": queue,
            "state": state, "arithmetic": {} if arithmetic is None else arithmetic,
            "why": why})


class Method(ABC):
    """A distribution method. Subclasses declare their options and choose."""

    name: ClassVar[str]
    description: ClassVar[str]
    #: option name -> description (for the rule editor); parse_options validates them
    options: ClassVar[Mapping[str, str]] = {}
    #: does the target need a pool of agents?
    needs_pool: ClassVar[bool] = True
    #: can it place only when at least one member is eligible?
    needs_eligible: ClassVar[bool] = True
    #: does choose() handle an empty eligible set itself (so the engine need not check
    #: every member first)?
    lazy: ClassVar[bool] = False
    #: outcome when placed
    outcome: ClassVar[str] = "assigned"
    example: ClassVar[Mapping[str, Any]] = {}

    def parse_options(self, data: Mapping[str, Any], path: str,
                      pool: Pool | None) -> dict[str, Any]:
        """Validate this method's options in a target mapping (``path`` is the target's).

        The default accepts no options.
        """
        return {}

    @abstractmethod
    def choose(self, ctx: Context) -> Pick:
        """Choose among ``ctx.eligible`` (or decline with ``Pick(None)``)."""

    def describe(self) -> dict[str, Any]:
        """JSON-able description for ``vocabulary()``."""
        return {"description": self.description, "options": dict(self.options),
                "needs_pool": self.needs_pool, "outcome": self.outcome,
                "example": dict(self.example)}


METHODS: dict[str, Method] = {}


def register_method(method: Method) -> Method:
    """Add (or replace) a method in the registry by its name."""
    METHODS[method.name] = method
    return method


def get_method(name: Any, path: str) -> Method:
    """The registered method called ``name``, or InvalidFlow naming ``path``."""
    if not isinstance(name, str) or name not in METHODS:
        raise InvalidFlow(f"unknown method {name!r}; use one of {', '.join(sorted(METHODS))}",
                          path=path)
    return METHODS[name]


def after_in_ring(keys: list[str], last: str | None) -> str:
    """The first key after ``last`` in sorted ring order (wrapping); keys sorted, non-empty."""
    if last is None:
        return keys[0]
    i = bisect_right(keys, last)
    return keys[i % len(keys)]


def option_choice(data: Mapping[str, Any], name: str, choices: tuple[str, ...],
                  path: str) -> str:
    """A text option restricted to ``choices`` (the first is the default)."""
    value = data.get(name, choices[0])
    if value not in choices:
        raise InvalidFlow(f"{name} must be one of {', '.join(choices)}, got {value!r}",
                          path=f"{path}.{name}")
    return str(value)


def option_number(data: Mapping[str, Any], name: str, default: float, path: str, *,
                  lo: float = 0.0, hi: float | None = None) -> float:
    """A numeric option within [lo, hi]."""
    value = data.get(name, default)
    if (isinstance(value, bool) or not isinstance(value, int | float) or value < lo
            or (hi is not None and value > hi)):
        bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise InvalidFlow(f"{name} must be a number {bound}, got {value!r}",
                          path=f"{path}.{name}")
    return float(value)
