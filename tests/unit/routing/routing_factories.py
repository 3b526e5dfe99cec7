"""Small factories shared by the routing tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from leadgate.domain.agents import Agent, AgentLoad, Candidate
from leadgate.domain.routing import Flow, parse_flow

NOW = datetime(2026, 1, 14, 10, 0, tzinfo=UTC)  # a Wednesday


def agent(key: str, **kw: Any) -> Agent:
    kw.setdefault("name", key.capitalize())
    for k in ("teams", "languages", "skills", "territories"):
        if k in kw and isinstance(kw[k], list):
            kw[k] = tuple(kw[k])
    return Agent(key=key, **kw)


def cand(key: str, *, load: AgentLoad | None = None, **kw: Any) -> Candidate:
    return Candidate(agent(key, **kw), load or AgentLoad())


def team(*keys: str, name: str = "t", **kw: Any) -> list[Candidate]:
    return [cand(k, teams=[name], **kw) for k in keys]


def flow(*rules: dict[str, Any], fallback: dict[str, Any] | None = None,
         key: str = "f") -> Flow:
    data: dict[str, Any] = {"key": key, "rules": list(rules)}
    if fallback is not None:
        data["fallback"] = fallback
    return parse_flow(data)
