"""decide(): the pure routing function. Rules in order; the first that matches AND places wins.

Speed: rules are looked up through the flow's equality index (most non-matching rules
are never evaluated), pool members are checked lazily (round robin checks only the
agents it walks past), and the trace is built only when read: ``trace.rules`` (full
RuleTraces, condition explanations, member texts) on first access, the stored compact
form from exactly what decide() examined. All of it is deterministic, so a trace read
later says exactly what decide() saw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from leadgate.domain.agents import Candidate
from leadgate.domain.decision import (
    CompactParts,
    Decision,
    MemberTrace,
    RuleTrace,
    Trace,
)
from leadgate.domain.errors import RoutingError
from leadgate.domain.routing import eligibility
from leadgate.domain.routing.flow import Flow, Rule, Target
from leadgate.domain.routing.methods.base import METHODS, Context, Pick, get_method
from leadgate.domain.routing.pools import Roster
from leadgate.domain.routing.tracing import Lazy, LazyExplain, facts_read, gaps

__all__ = ["decide"]

_MENTION = 3  # ineligible members named in a summary
_ALWAYS: Mapping[str, Any] = {"always": True, "matched": True}


def _first(item: tuple[str, Candidate, tuple[str, ...]]) -> str:
    return item[0]


class _Attempt:
    """One target tried: its context (with memoised eligibility) and the pick.

    ``checked`` is how many members had been checked when the method was done; reading
    the full trace later checks the others too, but the compact trace lists only these,
    so both forms stay deterministic.
    """

    __slots__ = ("arithmetic", "checked", "ctx", "note", "pick", "target", "texts")

    def __init__(self, target: Target, ctx: Context, pick: Pick | None, note: str,
                 arithmetic: Mapping[str, Any] | None = None) -> None:
        self.target, self.ctx, self.pick, self.note = target, ctx, pick, note
        self.arithmetic: Mapping[str, Any] = (
            arithmetic if arithmetic is not None else pick.arithmetic if pick else {})
        self.checked = len(ctx.checked_view())
        self.texts: dict[str, str] | None = None  # explanations of the blocked, once made

    def all_checked(self) -> tuple[tuple[Candidate, tuple[str, ...]], ...]:
        reasons = self.ctx.reasons
        return tuple((c, reasons(c)) for c in self.ctx.members)

    def trace(self, index: int | None, name: str, condition: Mapping[str, Any]) -> RuleTrace:
        now = self.ctx.now

        def members() -> tuple[MemberTrace, ...]:
            return tuple(
                MemberTrace(c.agent.key, c.agent.label, not r, r,
                            eligibility.explain(c, r, now))
                for c, r in self.all_checked())

        return RuleTrace(
            index, name, True, condition, self.target.method, self.target.pool_dict,
            self.target.pool_id, Lazy(members), dict(self.arithmetic),
            self.pick is not None, self.note)

    def compact(self, index: int | None, name: str, facts: dict[str, Any]) -> dict[str, Any]:
        """The stored form: the members decide() had checked, sorted by key, as the keys
        of the eligible ones and the ineligible ones with their reasons and texts."""
        ctx, n = self.ctx, self.checked
        memo = ctx.checked_view()
        eligible: list[str] = []
        ineligible: list[dict[str, Any]] = []
        if n == 1:  # the usual case for round robin: the first member it checked took it
            k, (c, r) = next(iter(memo.items()))
            if r:
                ineligible.append(self._ineligible(k, c, r))
            else:
                eligible.append(k)
        elif n:
            # the memo is in the order checked: its first n entries are what decide() saw
            for k, (c, r) in sorted(islice(memo.items(), n)):
                if r:
                    ineligible.append(self._ineligible(k, c, r))
                else:
                    eligible.append(k)
        target = self.target
        return {"index": index, "name": name, "matched": True, "method": target.method,
                "facts": facts, "pool": dict(target.pool_dict), "pool_size": len(ctx.members),
                "eligible": eligible, "ineligible": ineligible,
                "arithmetic": dict(self.arithmetic), "placed": self.pick is not None,
                "note": self.note}

    def _ineligible(self, key: str, c: Candidate, reasons: tuple[str, ...]) -> dict[str, Any]:
        text = self.texts.get(key) if self.texts else None
        if text is None:
            text = eligibility.explain(c, reasons, self.ctx.now)
        return {"agent": key, "name": c.agent.label, "reasons": list(reasons), "text": text}

    def blocked_texts(self) -> list[str]:
        """Members found ineligible while choosing (all of them if all were checked).

        The texts are kept (``texts``) for the compact trace.
        """
        if not self.ctx.blocked:
            return []
        now, explain = self.ctx.now, eligibility.explain
        blocked = [(k, c, r) for k, (c, r) in self.ctx.checked_view().items() if r]
        blocked.sort(key=_first)
        texts = self.texts = {k: explain(c, r, now) for k, c, r in blocked}
        out = list(texts.values())
        if len(out) > _MENTION:
            out = [*out[:_MENTION], f"{len(out) - _MENTION} more were not eligible"]
        return out

    def label(self, key: str) -> str:
        hit = self.ctx.checked_view().get(key)
        if hit is not None:
            return hit[0].agent.label
        return next((c.agent.label for c in self.ctx.members if c.agent.key == key), key)


def _attempt(target: Target, lead: Mapping[str, Any], roster: Roster,
             state: Mapping[str, Any], now: datetime, flow: str | None,
             rule: str) -> _Attempt:
    method = METHODS.get(target.method) or get_method(target.method, "method")
    pool = target.pool
    members = pool.resolve(roster, lead) if pool is not None else ()
    sub = state.get(target.pool_id)
    if type(sub) is not dict and not isinstance(sub, Mapping):
        sub = {}
    ctx = Context(lead=lead, members=members, state=sub, options=target.options, now=now,
                  flow=flow, rule=rule)
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


class _Tried(Lazy[RuleTrace]):
    """What one decide() call examined: the rules that matched (with their attempts),
    how far it got, the fallback attempt. It is the trace's ``rules`` (built on first
    access) and builds the compact form on demand."""

    __slots__ = ("fallback", "flow", "lead", "matched", "upto", "why")

    def __init__(self, flow: Flow, lead: Mapping[str, Any]) -> None:
        # (no super().__init__ call: this runs once per decision)
        self._make, self._items = self._rule_traces, None
        self.flow, self.lead = flow, lead
        self.matched: list[tuple[Rule, _Attempt]] = []
        self.upto = len(flow.rules) - 1  # last rule index reached
        self.fallback: Any = None        # _Attempt, {"queue": X} or None
        self.why: str | None = None      # decide_fallback(): why only the fallback applies

    # decide() does not change a _Tried after building its Decision, so the trace can
    # read it later as is.
    def _rule_traces(self) -> tuple[RuleTrace, ...]:
        lead = self.lead
        built = {r.index: a.trace(r.index, r.name, LazyExplain(r.when, lead))
                 for r, a in self.matched}
        return tuple(
            built.get(r.index) or RuleTrace(
                r.index, r.name, False, LazyExplain(r.when, lead, short=True),
                r.target.method)
            for r in self.flow.rules[:self.upto + 1])

    def _compact_parts(self) -> CompactParts:
        lead, matched, fb, upto = self.lead, self.matched, self.fallback, self.upto
        if len(matched) == 1:  # the usual case: one rule matched and placed the lead
            r, a = matched[0]
            rules = [a.compact(r.index, r.name, facts_read(r.reads, lead))]
            i = r.index
            missed = [[0, i - 1]] if i else []
            if i < upto:
                missed.append([i + 1, upto])
        else:
            rules = [a.compact(r.index, r.name, facts_read(r.reads, lead)) for r, a in matched]
            missed = gaps([r.index for r, _ in matched], upto)
        if fb is None:
            return rules, missed, None
        fb_out = fb.compact(None, "fallback", {}) if isinstance(fb, _Attempt) else dict(fb)
        return rules, missed, fb_out

    def trace(self, outcome: str, summary: str, now: datetime,
              fallback: RuleTrace | Mapping[str, Any] | None = None) -> Trace:
        return Trace(self.flow.key, self, fallback, outcome, summary, now, self._compact_parts)

    def missed(self) -> str:
        unmatched = self.upto + 1 - len(self.matched)
        parts = []
        if unmatched:
            parts.append(f"{unmatched} rule{'s' if unmatched != 1 else ''} did not match")
        parts += [f"rule '{r.name}' matched but {a.note}" for r, a in self.matched]
        return "; ".join(parts) or "the flow has no rules"

    def because(self, more: str = "") -> str:
        """Why the fallback applies: no rule placed the lead (or decide_fallback's reason)."""
        return f"{self.why}{more}" if self.why else \
            f"no rule placed the lead ({self.missed()}{more})"


def _placed(attempt: _Attempt, rule: Rule | None, tried: _Tried, flow: Flow,
            state: Mapping[str, Any], now: datetime,
            fb_trace: RuleTrace | None = None) -> Decision:
    pick = attempt.pick
    assert pick is not None and pick.outcome is not None
    label = attempt.label
    outcome = pick.outcome
    who = label(pick.agent) if pick.agent else ""
    if outcome == "assigned" and pick.agent:
        head = f"Went to {who}"
    elif outcome == "offered":
        head = "Offered to " + ", ".join(label(k) for k in pick.agents)
    elif outcome == "queued":
        head = f"Queued in {pick.queue}"
    elif outcome == "delivering":
        head = "Sent to destinations"
    elif outcome == "sell":
        head = f"Sent to sale by {attempt.target.method}"
    else:
        head = outcome.capitalize()
    why = [f"rule '{rule.name}' matched"] if rule else [tried.because(), "the fallback applied"]
    blocked = attempt.blocked_texts()
    if blocked:
        why += blocked
    if pick.why:
        why.append(f"{who} {pick.why}" if who else pick.why)
    summary = f"{head}: {'; '.join(why)}."
    target = attempt.target
    return Decision(
        outcome, pick.agent, pick.agents, pick.queue,
        rule.name if rule else None, rule.index if rule else None,
        target.method, target.accept_within, None, dict(target.raw),
        _new_state(state, target, pick), tried.trace(outcome, summary, now, fb_trace))


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
    for rule in flow.candidate_rules(lead):
        if not rule.when.evaluate(lead):
            continue
        attempt = _attempt(rule.target, lead, roster, state, now, flow.key, rule.name)
        tried.matched.append((rule, attempt))
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


def decide_fallback(lead: Mapping[str, Any], flow: Flow, candidates: Sequence[Candidate],
                    state: Mapping[str, Any], now: datetime, *, why: str) -> Decision:
    """Only ``flow``'s fallback, for a lead its rules already sent somewhere that could
    not take it (a lead the marketplace did not sell): the fallback's pool, then its
    queue, else ``unassigned``. A fallback that sells is not tried (the lead is not put
    on sale again). ``why`` opens the summary; pure like :func:`decide`."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise RoutingError("now must be timezone-aware")
    roster = candidates if isinstance(candidates, Roster) else Roster(candidates, index=False)
    tried = _Tried(flow, lead)
    tried.upto = -1  # no rule examined
    tried.why = why
    return _fallback(lead, flow, roster, tried, state, now)


def _hold(attempt: _Attempt, rule: Rule, tried: _Tried, flow: Flow,
          state: Mapping[str, Any], now: datetime) -> Decision:
    queue = f"hold:{flow.key}:{rule.name}"
    until = eligibility.hold_until(attempt.all_checked(), now)
    when = f"until {until.isoformat()}" if until else "until someone in the pool is eligible"
    why = [f"rule '{rule.name}' matched but {attempt.note}", *attempt.blocked_texts()]
    summary = f"Held in {queue} {when}: " + "; ".join(why) + "."
    return Decision(outcome="queued", queue=queue, rule=rule.name, rule_index=rule.index,
                    method=attempt.target.method, accept_within=attempt.target.accept_within,
                    hold_until=until, target=dict(attempt.target.raw), state=dict(state),
                    trace=tried.trace("queued", summary, now))


def _fallback(lead: Mapping[str, Any], flow: Flow, roster: Roster, tried: _Tried,
              state: Mapping[str, Any], now: datetime) -> Decision:
    fb = flow.fallback
    more = ""
    fb_trace: RuleTrace | Mapping[str, Any] | None = None
    if fb is not None and fb.target is not None and tried.why is not None and \
            fb.target.impl.outcome == "sell":
        more = "; the fallback sells, and a lead is not put on sale again"
    elif fb is not None and fb.target is not None:
        attempt = _attempt(fb.target, lead, roster, state, now, flow.key, "fallback")
        tried.fallback = attempt
        fb_trace = attempt.trace(None, "fallback", dict(_ALWAYS))
        if attempt.pick is not None:
            return _placed(attempt, None, tried, flow, state, now, fb_trace)
        pool = fb.target.pool.describe() if fb.target.pool else fb.target.method
        more = f"; the fallback {pool} could not place it ({attempt.note})"
    if fb is not None and fb.queue is not None:
        if fb_trace is None:
            fb_trace = tried.fallback = {"queue": fb.queue}
        summary = f"Queued in {fb.queue}: {tried.because(more)}."
        return Decision(outcome="queued", queue=fb.queue, target={"queue": fb.queue},
                        state=dict(state), trace=tried.trace("queued", summary, now, fb_trace))
    tail = "" if fb is not None else " and the flow has no fallback"
    summary = f"Unassigned: {tried.because(more)}{tail}."
    return Decision(outcome="unassigned", state=dict(state),
                    trace=tried.trace("unassigned", summary, now, fb_trace))
