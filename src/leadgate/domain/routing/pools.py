"""Pools: which agents a target draws from, and a roster index to find them fast.

Pool kinds (one per target):

* ``team: mumbai`` - every agent in the team;
* ``agents: [ana, ben]`` - a fixed list of agent keys;
* ``agents: {languages: pt, territories: lead}`` - a selector over agent attributes
  (every listed attribute must match; a list value means "any of these");
* ``agents: "*"`` - every agent of the workspace;
* ``agent: ana`` - exactly one agent;
* ``agent_field: owner`` - the agent whose key is in the lead's ``owner`` field.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_left
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from leadgate.domain.agents import Agent, Candidate, territory_covers
from leadgate.domain.errors import InvalidFlow

__all__ = ["POOL_KINDS", "SELECTOR_ATTRIBUTES", "Pool", "Ring", "Roster", "parse_pool"]

POOL_KINDS: dict[str, str] = {
    "team": "every agent of a team: {team: mumbai}",
    "agents": "a list of agent keys [ana, ben], a selector {languages: pt}, or '*' for all",
    "agent": "one agent: {agent: ana}",
    "agent_field": "the agent whose key is in a lead field: {agent_field: owner}",
}
SELECTOR_ATTRIBUTES: dict[str, str] = {
    "teams": "agent is in any of the listed teams",
    "languages": "agent speaks any of the listed ISO 639-1 languages",
    "skills": "agent has any of the listed skills",
    "territories": "'lead' = a territory of the agent covers the lead; or territory codes",
    "tier": "agent's tier is one of the listed tiers",
    "key": "agent key is one of the listed keys",
    "<attribute>": "any custom attribute equals one of the listed values",
}
_TUPLE_ATTRS = ("teams", "languages", "skills", "territories")


class Ring(tuple[Candidate, ...]):
    """Candidates sorted by agent key, with their keys alongside (round robin bisects the
    keys). The roster caches these per team; treat them as read-only."""

    keys: tuple[str, ...]

    def __new__(cls, items: Iterable[Candidate]) -> Ring:
        self = super().__new__(cls, items)
        self.keys = tuple(c.agent.key for c in self)
        return self


class Roster(Sequence[Candidate]):
    """The workspace's candidates with lookup indexes (by key, by team).

    ``decide()`` accepts any sequence of candidates; passing a Roster built once and
    reused across decisions saves rebuilding the indexes. With ``index=False`` (what
    decide() uses for a plain sequence) team lookups scan instead of building an index.
    """

    def __init__(self, candidates: Sequence[Candidate], *, index: bool = True) -> None:
        self._items: Sequence[Candidate] = tuple(candidates) if index else candidates
        self._index = index
        self._by_key: dict[str, Candidate] | None = None
        self._by_team: dict[str, Ring] | None = None
        self._sorted: Ring | None = None

    @overload
    def __getitem__(self, i: int) -> Candidate: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Candidate]: ...
    def __getitem__(self, i: int | slice) -> Candidate | Sequence[Candidate]:
        return self._items[i]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Candidate]:
        return iter(self._items)

    def by_key(self) -> dict[str, Candidate]:
        """Candidates by agent key."""
        if self._by_key is None:
            self._by_key = {c.agent.key: c for c in self._items}
        return self._by_key

    def everyone(self) -> Ring:
        """Every candidate, sorted by agent key (cached when indexing)."""
        if self._sorted is not None:
            return self._sorted
        out = Ring(sorted(self._items, key=_agent_key))
        if self._index:
            self._sorted = out
        return out

    def team(self, name: str) -> list[Candidate]:
        """Members of a team, sorted by agent key."""
        return list(self.team_members(name))

    def team_members(self, name: str) -> tuple[Candidate, ...]:
        """Members of a team, sorted by agent key (a Ring, cached when indexing: do not
        change it)."""
        if not self._index:
            return Ring(sorted((c for c in self._items if name in c.agent.teams),
                               key=_agent_key))
        if self._by_team is None:
            idx: dict[str, list[Candidate]] = {}
            for c in self.everyone():
                for t in c.agent.teams:
                    idx.setdefault(t, []).append(c)
            self._by_team = {t: Ring(cs) for t, cs in idx.items()}
        return self._by_team.get(name, _NO_RING)


    def replaced(self, candidate: Candidate) -> Roster:
        """This roster with the candidate of the same agent swapped for ``candidate``
        (its new load), keeping every index that does not involve that agent: a batch
        of decisions updates one load at a time without re-sorting the workspace."""
        key = candidate.agent.key
        out = Roster((), index=self._index)
        out._items = tuple(candidate if c.agent.key == key else c for c in self._items)
        if self._by_key is not None:
            out._by_key = {**self._by_key, key: candidate}
        if self._sorted is not None:
            out._sorted = _swap(self._sorted, key, candidate)
        if self._by_team is not None:
            out._by_team = {t: _swap(ring, key, candidate) if t in candidate.agent.teams
                            else ring for t, ring in self._by_team.items()}
        return out


def _swap(ring: Ring, key: str, candidate: Candidate) -> Ring:
    i = bisect_left(ring.keys, key)
    if i < len(ring.keys) and ring.keys[i] == key:
        return Ring((*ring[:i], candidate, *ring[i + 1:]))
    return ring


_NO_RING = Ring(())


def _agent_key(c: Candidate) -> str:
    return c.agent.key


def _fold(v: Any) -> str:
    return str(v).strip().casefold()


@dataclass(frozen=True)
class Pool:
    """A pool definition; ``members()`` resolves it against a roster and a lead."""

    kind: str
    value: Any
    _selector: tuple[tuple[str, Any], ...] = field(default=(), compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The pool as target keys, e.g. ``{"team": "mumbai"}``."""
        v = self.value
        if isinstance(v, tuple):
            v = list(v)
        elif isinstance(v, Mapping):
            v = {k: list(x) if isinstance(x, tuple) else x for k, x in v.items()}
        return {self.kind: v}

    def ident(self) -> str:
        """Stable text identifying the pool (order of a key list does not matter)."""
        v = self.value
        if self.kind == "agents" and isinstance(v, tuple):
            text = "agents=" + ",".join(sorted(v))
        elif isinstance(v, Mapping):
            text = "select:" + json.dumps(self.to_dict()["agents"], sort_keys=True,
                                          separators=(",", ":"))
        else:
            text = f"{self.kind}={v}"
        if len(text) > 80:
            text = self.kind + "#" + hashlib.sha1(text.encode()).hexdigest()[:16]
        return text

    def describe(self) -> str:
        """Human text: 'team mumbai', 'agents ana, ben'..."""
        v = self.value
        if isinstance(v, tuple):
            return "agents " + ", ".join(v)
        if isinstance(v, Mapping):
            return "agents with " + ", ".join(f"{k}={x}" for k, x in v.items())
        return f"{self.kind.replace('_', ' ')} {v}"

    def members(self, roster: Roster, lead: Mapping[str, Any]) -> list[Candidate]:
        """Pool members present in the roster, sorted by agent key."""
        return list(self.resolve(roster, lead))

    def resolve(self, roster: Roster, lead: Mapping[str, Any]) -> Sequence[Candidate]:
        """Like :meth:`members`, but may return the roster's cached tuple: do not change it."""
        kind = self.kind
        if kind == "team":
            return roster.team_members(self.value)
        by_key = roster.by_key()
        if kind == "agent":
            c = by_key.get(self.value)
            return (c,) if c else ()
        if kind == "agent_field":
            owner = lead.get(self.value)
            if owner is None or owner == "":
                return ()
            c = by_key.get(str(owner))
            if c is None:
                folded = _fold(owner)
                c = next((x for x in roster if _fold(x.agent.key) == folded), None)
            return (c,) if c else ()
        if isinstance(self.value, tuple):
            found = (by_key.get(k) for k in sorted(self.value))
            return tuple(c for c in found if c is not None)
        if self.value == "*":
            return roster.everyone()
        sel = self._selector
        return tuple(c for c in roster.everyone() if _selects(c.agent, sel, lead))


def _agent_values(agent: Agent, attr: str) -> tuple[Any, ...]:
    if attr in _TUPLE_ATTRS:
        return tuple(getattr(agent, attr))
    if attr == "tier":
        return (agent.tier,) if agent.tier else ()
    if attr == "key":
        return (agent.key,)
    v = agent.attributes.get(attr)
    if v is None:
        return ()
    return tuple(v) if isinstance(v, list | tuple | set | frozenset) else (v,)


def _selects(agent: Agent, sel: tuple[tuple[str, Any], ...], lead: Mapping[str, Any]) -> bool:
    for attr, want in sel:
        if attr == "territories" and want == "lead":
            if not any(territory_covers(t, lead) for t in agent.territories):
                return False
            continue
        if isinstance(want, Mapping):  # {lead: field}
            v = lead.get(want["lead"])
            if v is None or v == "":
                return False
            wanted = {_fold(x) for x in v} if isinstance(v, list | tuple) else {_fold(v)}
        else:
            wanted = want
        if not any(_fold(x) in wanted for x in _agent_values(agent, attr)):
            return False
    return True


def _check_key(k: Any, known: Collection[str] | None, what: str, path: str) -> str:
    if not isinstance(k, str) or not k.strip():
        raise InvalidFlow(f"{what} key must be a non-empty string", path=path)
    if known is not None and k not in known:
        raise InvalidFlow(f"unknown {what} {k!r}", path=path)
    return k


def parse_pool(data: Mapping[str, Any], path: str, *, agents: Collection[str] | None,
               teams: Collection[str] | None, fields: Collection[str] | None) -> Pool | None:
    """The pool of a target mapping (None when it has none); refuses bad keys with a path."""
    kinds = [k for k in POOL_KINDS if k in data]
    if not kinds:
        return None
    if len(kinds) > 1:
        raise InvalidFlow(f"a target has one pool, got {', '.join(kinds)}", path=path)
    kind = kinds[0]
    value = data[kind]
    sub = f"{path}.{kind}"
    if kind == "team":
        return Pool(kind, _check_key(value, teams, "team", sub))
    if kind == "agent":
        return Pool(kind, _check_key(value, agents, "agent", sub))
    if kind == "agent_field":
        return Pool(kind, _check_key(value, fields, "field", sub))
    if value == "*":
        return Pool(kind, "*")
    if isinstance(value, list | tuple):
        if not value:
            raise InvalidFlow("agents needs at least one agent key", path=sub)
        keys = tuple(_check_key(k, agents, "agent", f"{sub}[{i}]") for i, k in enumerate(value))
        if len(set(keys)) != len(keys):
            raise InvalidFlow("agent keys repeat", path=sub)
        return Pool(kind, keys)
    if not isinstance(value, Mapping) or not value:
        raise InvalidFlow("agents must be a list of keys, a selector mapping or '*'", path=sub)
    norm: dict[str, Any] = {}
    compiled: list[tuple[str, Any]] = []
    for attr, want in value.items():
        apath = f"{sub}.{attr}"
        if not isinstance(attr, str) or not attr:
            raise InvalidFlow("selector attribute must be a name", path=apath)
        if attr == "territories" and want == "lead":
            norm[attr] = "lead"
            compiled.append((attr, "lead"))
            continue
        if isinstance(want, Mapping):
            if list(want) != ["lead"]:
                raise InvalidFlow("use {lead: FIELD} to compare with a lead field", path=apath)
            _check_key(want["lead"], fields, "field", f"{apath}.lead")
            norm[attr] = {"lead": want["lead"]}
            compiled.append((attr, norm[attr]))
            continue
        items = list(want) if isinstance(want, list | tuple) else [want]
        if not items or not all(isinstance(x, str | int | float | bool) for x in items):
            raise InvalidFlow("expected a value or a list of values", path=apath)
        if attr == "teams" and teams is not None:
            for i, t in enumerate(items):
                _check_key(t, teams, "team", f"{apath}[{i}]" if len(items) > 1 else apath)
        norm[attr] = tuple(items) if isinstance(want, list | tuple) else want
        compiled.append((attr, frozenset(_fold(x) for x in items)))
    return Pool(kind, norm, tuple(compiled))
