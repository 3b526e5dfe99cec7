"""decide(): the pure routing function. Rules in order; the first that matches AND places wins.

Speed: rules are looked up through the flow's equality index (most non-matching rules
are never evaluated), pool members are checked lazily (round robin checks only the
agents it walks past), and the trace's heavy parts (condition explanations, member
texts) are computed when read. All of it is deterministic, so a trace read later says
exactly what decide() saw.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar, overload

from leadgate.domain.agents import Candidate
from leadgate.domain.conditions import Condition, explain_failure
from leadgate.domain.decision import Decision, MemberTrace, RuleTrace, Trace
from leadgate.domain.errors import RoutingError
from leadgate.domain.routing import eligibility
from leadgate.domain.routing.flow import Flow, Rule, Target
from leadgate.domain.routing.methods.base import Context, Pick, get_method
from leadgate.domain.routing.pools import Roster

__all__ = ["decide"]

_MENTION = 3  # ineligible members named in a summary
T = TypeVar("T")


class _LazyExplain(Mapping[str, Any]):
    """A condition's explanation, computed only when someone reads it."""

    __slots__ = ("_cond", "_facts", "_short", "_value")

    def __init__(self, cond: Condition, facts: Mapping[str, Any], *,
                 short: bool = False) -> None:
        self._cond, self._facts, self._short = cond, facts, short
        self._value: dict[str, Any] | None = None

    def _get(self) -> dict[str, Any]:
        if self._value is None:
            self._value = (explain_failure(self._cond, self._facts) if self._short
                           else self._cond.explain(self._facts))
        return self._value

    def __getitem__(self, k: str) -> Any:
        return self._get()[k]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __repr__(self) -> str:
        return repr(self._get())


class _Lazy(Sequence[T]):
    """A tuple built on first access."""

    __slots__ = ("_items", "_make")

    def __init__(self, make: Callable[[], tuple[T, ...]]) -> None:
        self._make = make
        self._items: tuple[T, ...] | None = None

    def _get(self) -> tuple[T, ...]:
        if self._items is None:
            self._items = self._make()
        return self._items

    @overload
    def __getitem__(self, i: int) -> T: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[T]: ...
    def __getitem__(self, i: int | slice) -> T | Sequence[T]:
        return self._get()[i]

    def __len__(self) -> int:
        return len(self._get())

    def __eq__(self, other: object) -> bool:
        return tuple(self) == tuple(other) if isinstance(other, Sequence) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._get())


class _Attempt:
    """One target tried: its context (with memoised eligibility) and the pick."""

    def __init__(self, target: Target, ctx: Context, pick: Pick | None, note: str,
                 arithmetic: Mapping[str, Any] | None = None) -> None:
        self.target, self.ctx, self.pick, self.note = target, ctx, pick, note
        self.arithmetic = dict(arithmetic if arithmetic is not None
                               else pick.arithmetic if pick else {})

    def all_checked(self) -> tuple[tuple[Candidate, tuple[str, ...]], ...]:
        return tuple((c, self.ctx.reasons(c)) for c in self.ctx.members)

    def trace(self, index: int | None, name: str, condition: Mapping[str, Any]) -> RuleTrace:
        now = self.ctx.now

        def members() -> tuple[MemberTrace, ...]:
            return tuple(
                MemberTrace(c.agent.key, c.agent.label, not r, r,
                            eligibility.explain(c, r, now))
                for c, r in self.all_checked())

        return RuleTrace(
            index=index, name=name, matched=True, condition=condition,
            method=self.target.method, pool=self.target.pool_dict, pool_id=self.target.pool_id,
            members=_Lazy(members),
            arithmetic=self.arithmetic,
            placed=self.pick is not None, note=self.note)

    def blocked_texts(self) -> list[str]:
        """Members found ineligible while choosing (all of them if all were checked)."""
        seen = self.ctx.checked()
        out = [eligibility.explain(c, r, self.ctx.now)
               for k, (c, r) in sorted(seen.items()) if r]
        if len(out) > _MENTION:
            out = [*out[:_MENTION], f"{len(out) - _MENTION} more were not eligible"]
        return out

    def label(self, key: str) -> str:
        hit = self.ctx.seen(key)
        if hit is not None:
            return hit.agent.label
        return next((c.agent.label for c in self.ctx.members if c.agent.key == key), key)


def _attempt(target: Target, lead: Mapping[str, Any], roster: Roster,
             state: Mapping[str, Any], now: datetime, flow: str | None,
             rule: str) -> _Attempt:
    method = get_method(target.method, "method")
    members = target.pool.members(roster, lead) if target.pool is not None else []
    sub = state.get(target.pool_id)
    ctx = Context(lead=lead, members=members, state=sub if isinstance(sub, Mapping) else {},
                  options=target.options, now=now, flow=flow, rule=rule)
    if method.needs_eligible and not method.lazy and not ctx.eligible:
        note = "nobody in the pool was eligible" if members else "the pool is empty"
        return _Attempt(target, ctx, None, note)
    pick = method.choose(ctx)
    if pick.outcome is None:
        note = pick.why or "the method declined"
        if not members and method.needs_pool:
            note = "the pool is empty"
        return _Attempt(target, ctx, None, note, pick.arithmetic)
    return _Attempt(target, ctx, pick, "")


def _new_state(state: Mapping[str, Any], target: Target, pick: Pick) -> dict[str, Any]:
    out = dict(state)
    if pick.state is not None:
        out[target.pool_id] = dict(pick.state)
    return out


class _Tried:
    """The rules tried so far: built traces for matched ones, lazy ones for the rest."""

    def __init__(self, flow: Flow, lead: Mapping[str, Any]) -> None:
        self.flow, self.lead = flow, lead
        self.built: dict[int, RuleTrace] = {}
        self.upto = -1  # last rule index reached

    def traces(self) -> Sequence[RuleTrace]:
        flow, lead, built, upto = self.flow, self.lead, dict(self.built), self.upto

        def make() -> tuple[RuleTrace, ...]:
            return tuple(
                built.get(r.index) or RuleTrace(
                    index=r.index, name=r.name, matched=False,
                    condition=_LazyExplain(r.when, lead, short=True),
                    method=r.target.method)
                for r in flow.rules[:upto + 1])
        return _Lazy(make)

    def missed(self) -> str:
        unmatched = self.upto + 1 - len(self.built)
        parts = []
        if unmatched:
            parts.append(f"{unmatched} rule{'s' if unmatched != 1 else ''} did not match")
        parts += [f"rule '{t.name}' matched but {t.note}" for t in self.built.values()]
        return "; ".join(parts) or "the flow has no rules"


def _placed(attempt: _Attempt, rule: Rule | None, tried: _Tried, flow: Flow,
            state: Mapping[str, Any], now: datetime,
            fb_trace: RuleTrace | None = None) -> Decision:
    pick = attempt.pick
    assert pick is not None and pick.outcome is not None
    label = attempt.label
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
        f"no rule placed the lead ({tried.missed()})", "the fallback applied"]
    why += attempt.blocked_texts()
    if pick.why:
        who = label(pick.agent) + " " if pick.agent else ""
        why.append(who + pick.why)
    summary = f"{head}: " + "; ".join(why) + "."
    trace = Trace(flow=flow.key, rules=tried.traces(), fallback=fb_trace,
                  outcome=pick.outcome, summary=summary, now=now)
    return Decision(
        outcome=pick.outcome, agent=pick.agent, agents=pick.agents, queue=pick.queue,
        rule=rule.name if rule else None, rule_index=rule.index if rule else None,
        method=attempt.target.method, accept_within=attempt.target.accept_within,
        target=dict(attempt.target.raw), state=_new_state(state, attempt.target, pick),
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
    roster = candidates if isinstance(candidates, Roster) else Roster(candidates, index=False)
    tried = _Tried(flow, lead)
    tried.upto = len(flow.rules) - 1
    for rule in flow.candidate_rules(lead):
        if not rule.when.evaluate(lead):
            continue
        attempt = _attempt(rule.target, lead, roster, state, now, flow.key, rule.name)
        tried.built[rule.index] = attempt.trace(rule.index, rule.name,
                                                _LazyExplain(rule.when, lead))
        if attempt.pick is not None:
            tried.upto = rule.index
            return _placed(attempt, rule, tried, flow, state, now)
        if rule.when_nobody == "hold":
            tried.upto = rule.index
            return _hold(attempt, rule, tried, flow, state, now)
        if rule.when_nobody == "fallback":
            tried.upto = rule.index
            break
    return _fallback(lead, flow, roster, tried, state, now)


def _hold(attempt: _Attempt, rule: Rule, tried: _Tried, flow: Flow,
          state: Mapping[str, Any], now: datetime) -> Decision:
    queue = f"hold:{flow.key}:{rule.name}"
    until = eligibility.hold_until(attempt.all_checked(), now)
    when = f"until {until.isoformat()}" if until else "until someone in the pool is eligible"
    why = [f"rule '{rule.name}' matched but {attempt.note}", *attempt.blocked_texts()]
    summary = f"Held in {queue} {when}: " + "; ".join(why) + "."
    trace = Trace(flow=flow.key, rules=tried.traces(), outcome="queued", summary=summary,
                  now=now)
    return Decision(outcome="queued", queue=queue, rule=rule.name, rule_index=rule.index,
                    method=attempt.target.method, accept_within=attempt.target.accept_within,
                    hold_until=until, target=dict(attempt.target.raw), state=dict(state),
                    trace=trace)


def _fallback(lead: Mapping[str, Any], flow: Flow, roster: Roster, tried: _Tried,
              state: Mapping[str, Any], now: datetime) -> Decision:
    fb = flow.fallback
    missed = tried.missed()
    fb_trace: RuleTrace | Mapping[str, Any] | None = None
    if fb is not None and fb.target is not None:
        attempt = _attempt(fb.target, lead, roster, state, now, flow.key, "fallback")
        fb_trace = attempt.trace(None, "fallback", {"always": True, "matched": True})
        if attempt.pick is not None:
            return _placed(attempt, None, tried, flow, state, now, fb_trace)
        pool = fb.target.pool.describe() if fb.target.pool else fb.target.method
        missed += f"; the fallback {pool} could not place it ({attempt.note})"
    if fb is not None and fb.queue is not None:
        fb_trace = fb_trace or {"queue": fb.queue}
        summary = f"Queued in {fb.queue}: no rule placed the lead ({missed})."
        trace = Trace(flow=flow.key, rules=tried.traces(), fallback=fb_trace,
                      outcome="queued", summary=summary, now=now)
        return Decision(outcome="queued", queue=fb.queue, target={"queue": fb.queue},
                        state=dict(state), trace=trace)
    tail = "" if fb is not None else " and the flow has no fallback"
    summary = f"Unassigned: no rule placed the lead ({missed}){tail}."
    trace = Trace(flow=flow.key, rules=tried.traces(), fallback=fb_trace,
                  outcome="unassigned", summary=summary, now=now)
    return Decision(outcome="unassigned", state=dict(state), trace=trace)
