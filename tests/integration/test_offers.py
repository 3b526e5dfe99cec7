"""Push offers with an acceptance deadline: bounce down the pool, escalate, accept
before the deadline, decline, and durable timers across a restart. Clock injected;
SQLite and PostgreSQL (``db_url``)."""

from __future__ import annotations

import pytest
from tests.conftest import FakeClock, apply_setup, make_app
from tests.integration.workloop import (
    PUSH,
    assert_loads_match_rebuild,
    events,
    holder,
    offers_of,
    open_loads,
    post,
)

from leadgate.bootstrap import App
from leadgate.domain.errors import Conflict, NotFound
from leadgate.services import handlers, jobs, offers
from leadgate.services.principal import Principal
from leadgate.store import models as m


@pytest.fixture
def push(app: App) -> App:
    apply_setup(app, PUSH)
    return app


def rep(app: App, key: str) -> Principal:
    with app.reader() as uow:
        agent = uow.session.query(m.Agent).filter_by(key=key).one()
        return Principal(kind="user", name=key, role="agent", user_id=1, agent_id=agent.id)


BOSS = Principal(kind="user", name="boss", role="manager", user_id=99)


def open_offer(app: App, lead_id: int) -> int:
    with app.reader() as uow:
        oid = uow.session.query(m.Offer.id).filter_by(lead_id=lead_id, status="offered").scalar()
        assert oid is not None
        return int(oid)


def drain(app: App) -> int:
    return jobs.drain(app.uow, app.clock)


def test_an_unanswered_offer_bounces_down_the_pool_then_escalates(push: App) -> None:
    clock: FakeClock = push.clock  # type: ignore[assignment]
    lead = post(push)
    assert holder(push, lead) == ("offered", "a1", None)
    assert open_loads(push)["a1"] == 1
    assert drain(push) == 0  # nothing is due before the deadline
    for expected in ("a2", "a3", "a4"):
        clock.advance(minutes=5)
        assert drain(push) == 1
        assert holder(push, lead) == ("offered", expected, None)
    clock.advance(minutes=5)
    drain(push)
    # the pool is exhausted: the rule's escalation (the manager a5) takes it outright
    assert holder(push, lead) == ("assigned", "a5", None)
    assert [(a, s) for a, s, _ in offers_of(push, lead)] == [
        ("a1", "expired"), ("a2", "expired"), ("a3", "expired"), ("a4", "expired")]
    types = [t for t, _ in events(push, lead)]
    assert types.count("offered") == 4 and types.count("offer_expired") == 4
    assert types[-1] == "escalated"
    expired = [d for t, d in events(push, lead) if t == "offer_expired"]
    assert all(d["after_seconds"] == 300.0 for d in expired)
    assert open_loads(push) == {"a1": 0, "a2": 0, "a3": 0, "a4": 0, "a5": 1}
    assert_loads_match_rebuild(push)


def test_without_escalation_an_exhausted_pool_goes_to_the_fallback_queue(push: App) -> None:
    clock: FakeClock = push.clock  # type: ignore[assignment]
    lead = post(push, city="Delhi")
    for _ in range(4):
        clock.advance(minutes=2)
        drain(push)
    assert holder(push, lead) == ("unassigned", None, "unassigned")
    assert sum(open_loads(push).values()) == 0
    assert_loads_match_rebuild(push)


def test_accept_before_the_deadline_stops_the_timer(push: App) -> None:
    clock: FakeClock = push.clock  # type: ignore[assignment]
    lead = post(push)
    clock.advance(minutes=4)
    with push.uow() as uow:
        offers.accept(uow, rep(push, "a1"), open_offer(push, lead), clock())
        uow.commit()
    clock.advance(minutes=10)
    assert drain(push) == 1  # the timer ran and found the offer accepted
    assert holder(push, lead) == ("assigned", "a1", None)
    assert offers_of(push, lead) == [("a1", "accepted", 1)]
    accepted = [d for t, d in events(push, lead) if t == "offer_accepted"]
    assert accepted[0]["after_seconds"] == 240.0
    assert_loads_match_rebuild(push)


def test_a_decline_bounces_at_once_and_never_back(push: App) -> None:
    clock: FakeClock = push.clock  # type: ignore[assignment]
    lead = post(push)
    with push.uow() as uow:
        offers.decline(uow, rep(push, "a1"), open_offer(push, lead), clock(), reason="busy")
        uow.commit()
    assert holder(push, lead) == ("offered", "a2", None)
    clock.advance(minutes=5)
    drain(push)  # round 1's timer finds nothing; round 2's bounces a2 -> a3
    assert holder(push, lead) == ("offered", "a3", None)
    assert [(a, s) for a, s, _ in offers_of(push, lead)] == [
        ("a1", "declined"), ("a2", "expired"), ("a3", "offered")]
    assert_loads_match_rebuild(push)


def test_a_rep_cannot_answer_someone_elses_offer_and_late_answers_are_refused(
        push: App) -> None:
    clock: FakeClock = push.clock  # type: ignore[assignment]
    lead = post(push)
    oid = open_offer(push, lead)
    with push.uow() as uow, pytest.raises(NotFound):
        offers.accept(uow, rep(push, "a2"), oid, clock())
    clock.advance(minutes=6)  # past the deadline, the timer has not run yet
    with push.uow() as uow, pytest.raises(Conflict) as exc:
        offers.accept(uow, rep(push, "a1"), oid, clock())
    assert exc.value.code == "offer_expired"
    with push.uow() as uow:  # a manager may answer any offer (in time)
        drain(push)
        offers.accept(uow, BOSS, open_offer(push, lead), clock())
        uow.commit()
    assert holder(push, lead) == ("assigned", "a2", None)


def test_a_restart_loses_no_timer(db_url: str, clock: FakeClock) -> None:
    first = make_app(db_url, clock)
    apply_setup(first, PUSH)
    lead = post(first)
    first.close()  # "restart": the only memory of the deadline is the job row
    clock.advance(minutes=5)
    second = make_app(db_url, clock)
    try:
        assert jobs.drain(second.uow, clock) == 1
        assert holder(second, lead) == ("offered", "a2", None)
        assert_loads_match_rebuild(second)
    finally:
        second.close()


def test_the_timer_bounces_once_even_when_run_twice(push: App) -> None:
    clock: FakeClock = push.clock  # type: ignore[assignment]
    lead = post(push)
    clock.advance(minutes=5)
    for _ in range(2):  # a second worker (or a retried job) runs the same round again
        with push.uow() as uow:
            offers.expire(uow, {"lead_id": lead, "round": 1}, clock())
            uow.commit()
    assert holder(push, lead) == ("offered", "a2", None)
    assert [a for a, _, _ in offers_of(push, lead)] == ["a1", "a2"]
    assert_loads_match_rebuild(push)


def test_the_periodic_retry_leaves_escalated_and_pull_queue_leads_alone(app: App) -> None:
    from tests.integration.workloop import setup_with

    apply_setup(app, setup_with("""
  - key: insurance
    rules:
      - name: Mumbai
        when: {field: city, eq: Mumbai}
        to: {agents: [a1], method: round_robin, accept_within: 1m}
      - name: Pune
        when: {field: city, eq: Pune}
        to: {team: mumbai, method: pull, queue: pune}
    fallback: {queue: desk}
"""))
    clock: FakeClock = app.clock  # type: ignore[assignment]
    escalated, pulled = post(app), post(app, city="Pune")
    clock.advance(minutes=1)
    drain(app)
    assert holder(app, escalated) == ("queued", None, "desk")
    with app.uow() as uow:
        handlers.schedule_queue_retry(uow, clock())
    drain(app)
    assert holder(app, escalated) == ("queued", None, "desk")  # not offered again
    assert holder(app, pulled) == ("queued", None, "pune")
    assert [t for t, _ in events(app, pulled)].count("queued") == 1
