"""decide(): the pure routing function. Rules in order; the first that matches AND places wins."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leadgate.domain.agents import Candidate
from leadgate.domain.conditions import Condition
from leadgate.domain.decision import Decision, MemberTrace, RuleTrace, Trace
from leadgate.domain.errors import RoutingError
from leadgate.domain.routing import eligibility
from leadgate.domain.routing.flow import Flow, Rule, Target
from leadgate.domain.routing.methods.base import Context, Pick, get_method
from leadgate.domain.routing.pools import Roster

__all__ = ["decide"]

_MENTION = 3  # ineligible members named in a summary


class _LazyExplain(Mapping[str, Any]):
    """A condition's explanation, computed only when someone reads it."""

    __slots__ = ("_cond", "_facts", "_value")

    def __init__(self, cond: Condition, facts: Mapping[str, Any]) -> None:
        self._cond, self._facts = cond, facts
        self._value: dict[str, Any] | None = None

    def _get(self) -> dict[str, Any]:
        if self._value is None:
            self._value = self._cond.explain(self._facts)
        return self._value

    def __getitem__(self, k: str) -> Any:
        return self._get()[k]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __repr__(self) -> str:
        return repr(self._get())


@dataclass(frozen=True)
class _Attempt:
    target: Target
    checked: tuple[tuple[Candidate, tuple[str, ...]], ...]
    pick: Pick | None
    note: str

    def trace(self, index: int | None, name: str, condition: Mapping[str, Any],
              now: datetime) -> RuleTrace:
        members = tuple(
            MemberTrace(c.agent.key, c.agent.label, not r, r, eligibility.explain(c, r, now))
            for c, r in self.checked)
        pool = self.target.pool.to_dict() if self.target.pool else {}
        return RuleTrace(
            index=index, name=name, matched=True, condition=condition,
            method=self.target.method, pool=pool, pool_id=self.target.pool_id,
            members=members, arithmetic=dict(self.pick.arithmetic) if self.pick else {},
            placed=self.pick is not None, note=self.note)

    def blocked_texts(self, now: datetime) -> list[str]:
        out = [eligibility.explain(c, r, now) for c, r in self.checked if r]
        if len(out) > _MENTION:
            out = [*out[:_MENTION], f"{len(out) - _MENTION} more were not eligible"]
        return out


def _attempt(target: Target, lead: Mapping[str, Any], roster: Roster,
             state: Mapping[str, Any], now: datetime, flow: str | None,
             rule: str) -> _Attempt:
    method = get_method(target.method, "method")
    members = target.pool.members(roster, lead) if target.pool is not None else []
    checked = tuple((c, eligibility.check(c, now)) for c in members)
    eligible = tuple(c for c, r in checked if not r)
    if method.needs_eligible and not eligible:
        note = "nobody in the pool was eligible" if members else "the pool is empty"
        return _Attempt(target, checked, None, note)
    sub = state.get(target.pool_id)
    ctx = Context(lead=lead, members=tuple(members), eligible=eligible,
                  state=sub if isinstance(sub, Mapping) else {}, options=target.options,
                  now=now, flow=flow, rule=rule)
    pick = method.choose(ctx)
    if pick.outcome is None:
        return _Attempt(target, checked, None, pick.why or "the method declined")
    return _Attempt(target, checked, pick, "")


def _new_state(state: Mapping[str, Any], target: Target, pick: Pick) -> dict[str, Any]:
    out = dict(state)
    if pick.state is not None:
        out[target.pool_id] = dict(pick.state)
    return out


def _missed(tried: Sequence[RuleTrace]) -> str:
    unmatched = sum(1 for t in tried if not t.matched)
    parts = []
    if unmatched:
        parts.append(f"{unmatched} rule{'s' if unmatched != 1 else ''} did not match")
    parts += [f"rule '{t.name}' matched but {t.note}" for t in tried if t.matched]
    return "; ".join(parts) or "the flow has no rules"


def _placed(attempt: _Attempt, rule: Rule | None, tried: list[RuleTrace], flow: Flow,
            roster: Roster, state: Mapping[str, Any], now: datetime,
            fb_trace: RuleTrace | None = None) -> Decision:
    pick = attempt.pick
    assert pick is not None and pick.outcome is not None
    labels = roster.by_key()

    def label(k: str) -> str:
        c = labels.get(k)
        return c.agent.label if c else k

    if pick.outcome == "assigned" and pick.agent:
        head = f"Went to {label(pick.agent)}"
    elif pick.outcome == "offered":
        head = "Offered to " + ", ".join(label(k) for k in pick.agents)
    elif pick.outcome == "queued":
        head = f"Queued in {pick.queue}"
    elif pick.outcome == "sell":
        head = f"Sent to sale by {attempt.target.method}"
    else:
        head = pick.outcome.capitalize()
    why = [f"rule '{rule.name}' matched"] if rule else [
        f"no rule placed the lead ({_missed(tried)})", "the fallback applied"]
    why += attempt.blocked_texts(now)
    if pick.why:
        who = label(pick.agent) + " " if pick.agent else ""
        why.append(who + pick.why)
    summary = f"{head}: " + "; ".join(why) + "."
    trace = Trace(flow=flow.key, rules=tuple(tried), fallback=fb_trace, outcome=pick.outcome,
                  summary=summary, now=now)
    return Decision(
        outcome=pick.outcome, agent=pick.agent, agents=pick.agents, queue=pick.queue,
        rule=rule.name if rule else None, rule_index=rule.index if rule else None,
        method=attempt.target.method, accept_within=attempt.target.accept_within,
        target=attempt.target.to_dict(), state=_new_state(state, attempt.target, pick),
        trace=trace)


def decide(lead: Mapping[str, Any], flow: Flow, candidates: Sequence[Candidate],
           state: Mapping[str, Any], now: datetime) -> Decision:
    """Route one lead through ``flow``: pure and deterministic.

    ``candidates`` are all agents of the workspace with their live load (a
    :class:`Roster` may be passed to reuse its indexes); ``state`` is the flow's routing
    state as returned by the previous decision (``{}`` at first); ``now`` must be
    timezone-aware. The returned Decision carries the full new state and the trace.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise RoutingError("now must be timezone-aware")
    roster = candidates if isinstance(candidates, Roster) else Roster(candidates)
    tried: list[RuleTrace] = []
    for rule in flow.rules:
        explain = _LazyExplain(rule.when, lead)
        if not rule.when.evaluate(lead):
            tried.append(RuleTrace(index=rule.index, name=rule.name, matched=False,
                                   condition=explain, method=rule.target.method))
            continue
        attempt = _attempt(rule.target, lead, roster, state, now, flow.key, rule.name)
        tried.append(attempt.trace(rule.index, rule.name, explain, now))
        if attempt.pick is not None:
            return _placed(attempt, rule, tried, flow, roster, state, now)
        if rule.when_nobody == "hold":
            return _hold(attempt, rule, tried, flow, state, now)
        if rule.when_nobody == "fallback":
            break
    return _fallback(lead, flow, roster, tried, state, now)


def _hold(attempt: _Attempt, rule: Rule, tried: list[RuleTrace], flow: Flow,
          state: Mapping[str, Any], now: datetime) -> Decision:
    queue = f"hold:{flow.key}:{rule.name}"
    until = eligibility.hold_until(attempt.checked, now)
    when = f"until {until.isoformat()}" if until else "until someone in the pool is eligible"
    why = [f"rule '{rule.name}' matched but {attempt.note}", *attempt.blocked_texts(now)]
    summary = f"Held in {queue} {when}: " + "; ".join(why) + "."
    trace = Trace(flow=flow.key, rules=tuple(tried), outcome="queued", summary=summary, now=now)
    return Decision(outcome="queued", queue=queue, rule=rule.name, rule_index=rule.index,
                    method=attempt.target.method, accept_within=attempt.target.accept_within,
                    hold_until=until, target=attempt.target.to_dict(), state=dict(state),
                    trace=trace)


def _fallback(lead: Mapping[str, Any], flow: Flow, roster: Roster, tried: list[RuleTrace],
              state: Mapping[str, Any], now: datetime) -> Decision:
    fb = flow.fallback
    missed = _missed(tried)
    fb_trace: RuleTrace | Mapping[str, Any] | None = None
    if fb is not None and fb.target is not None:
        attempt = _attempt(fb.target, lead, roster, state, now, flow.key, "fallback")
        fb_trace = attempt.trace(None, "fallback", {"always": True, "matched": True}, now)
        if attempt.pick is not None:
            return _placed(attempt, None, tried, flow, roster, state, now, fb_trace)
        missed += f"; the fallback {fb.target.pool.describe() if fb.target.pool else ''}" \
                  f" could not place it ({attempt.note})"
    if fb is not None and fb.queue is not None:
        fb_trace = fb_trace or {"queue": fb.queue}
        summary = f"Queued in {fb.queue}: no rule placed the lead ({missed})."
        trace = Trace(flow=flow.key, rules=tuple(tried), fallback=fb_trace, outcome="queued",
                      summary=summary, now=now)
        return Decision(outcome="queued", queue=fb.queue, target={"queue": fb.queue},
                        state=dict(state), trace=trace)
    tail = "" if fb is not None else " and the flow has no fallback"
    summary = f"Unassigned: no rule placed the lead ({missed}){tail}."
    trace = Trace(flow=flow.key, rules=tuple(tried), fallback=fb_trace, outcome="unassigned",
                  summary=summary, now=now)
    return Decision(outcome="unassigned", state=dict(state), trace=trace)
