"""The login guard: sliding windows, one hash per attempt, bounded hashing. Counts, not times."""

from __future__ import annotations

import asyncio

import pytest

from leadgate.domain.errors import AuthError, TooManyRequests
from leadgate.services import security
from leadgate.services.login import LoginCandidate, LoginGuard
from leadgate.services.throttle import SlidingWindow

PASSWORD = "correct-horse-battery"
HASH = security.hash_password(PASSWORD)


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


def guard(clock: Clock, *, per_account: int = 10, per_address: int = 1000,
          concurrency: int = 2) -> LoginGuard:
    return LoginGuard(per_account=per_account, per_address=per_address, window_seconds=900,
                      hash_concurrency=concurrency, now=clock)


async def lookup(email: str) -> LoginCandidate | None:
    if email == "boss@example.com":
        return LoginCandidate(user_id=7, password_hash=HASH, active=True)
    if email == "gone@example.com":
        return LoginCandidate(user_id=8, password_hash=HASH, active=False)
    return None


def run(g: LoginGuard, email: str, password: str, address: str = "10.0.0.1") -> object:
    try:
        return asyncio.run(g.attempt(email, password, address, lookup))
    except (AuthError, TooManyRequests) as exc:
        return exc


def test_sliding_window_refuses_the_eleventh_and_frees_a_slot_as_it_slides() -> None:
    w = SlidingWindow(10, 60)
    for i in range(10):
        assert w.retry_after("k", 100 + i) == 0
        w.hit("k", 100 + i)
    assert w.retry_after("k", 110) == pytest.approx(50)
    assert w.retry_after("k", 160.5) == 0  # the first attempt left the window


def test_sliding_window_keeps_a_bounded_number_of_keys() -> None:
    w = SlidingWindow(3, 60, max_keys=100)
    for i in range(1000):
        w.hit(f"user{i}@example.com", 1.0)
    assert len(w) <= 100


def test_eleventh_wrong_password_is_refused_without_hashing() -> None:
    clock = Clock()
    g = guard(clock)
    results = [run(g, "boss@example.com", "wrong-password") for _ in range(11)]
    assert all(isinstance(r, AuthError) and not isinstance(r, TooManyRequests)
               for r in results[:10])
    assert isinstance(results[10], TooManyRequests)
    assert results[10].status == 429 and results[10].retry_after > 0
    assert g.hashes == 10  # the refused attempt cost no Argon2 check
    # even the right password is refused while the account is throttled
    assert isinstance(run(g, "boss@example.com", PASSWORD), TooManyRequests)
    assert g.hashes == 10
    clock.t += 901
    assert run(g, "boss@example.com", PASSWORD) == 7


def test_success_clears_the_accounts_count() -> None:
    g = guard(Clock(), per_account=3)
    for _ in range(2):
        run(g, "boss@example.com", "wrong-password")
    assert run(g, "boss@example.com", PASSWORD) == 7
    for _ in range(3):
        assert isinstance(run(g, "boss@example.com", "wrong-password"), AuthError)


def test_one_address_is_throttled_across_accounts() -> None:
    g = guard(Clock(), per_address=5)
    results = [run(g, f"user{i}@example.com", "x", address="10.9.9.9") for i in range(6)]
    assert isinstance(results[5], TooManyRequests)
    assert g.hashes == 5
    assert isinstance(run(g, "boss@example.com", "x", address="10.1.1.1"), AuthError)


@pytest.mark.parametrize("email", ["nobody@example.com", "gone@example.com",
                                   "boss@example.com"])
def test_every_attempt_runs_exactly_one_hash_so_emails_cannot_be_told_apart(email: str) -> None:
    g = guard(Clock())
    result = run(g, email, "wrong-password")
    assert isinstance(result, AuthError) and not isinstance(result, TooManyRequests)
    assert str(result) == "wrong email or password"
    assert g.hashes == 1


def test_inactive_user_cannot_log_in_with_the_right_password() -> None:
    g = guard(Clock())
    assert isinstance(run(g, "gone@example.com", PASSWORD), AuthError)


def test_parallel_attempts_never_hash_more_than_the_bound_at_once() -> None:
    g = guard(Clock(), per_account=1000, concurrency=2)

    async def flood() -> list[object]:
        async def one(i: int) -> object:
            try:
                return await g.attempt(f"user{i}@example.com", "x", f"10.0.0.{i}", lookup)
            except AuthError as exc:
                return exc
        return await asyncio.gather(*(one(i) for i in range(16)))

    results = asyncio.run(flood())
    assert len(results) == 16 and g.hashes == 16
    assert g.peak_running <= 2
    assert g.executor._max_workers == 2  # its own threads, not the request pool
    g.close()


def test_attempts_beyond_the_waiting_bound_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from leadgate.services import login

    monkeypatch.setattr(login, "MAX_WAITING", 4)
    g = guard(Clock(), per_account=1000, concurrency=1)

    async def flood() -> list[object]:
        async def one(i: int) -> object:
            try:
                return await g.attempt(f"u{i}@example.com", "x", f"10.0.1.{i}", lookup)
            except (AuthError, TooManyRequests) as exc:
                return exc
        return await asyncio.gather(*(one(i) for i in range(10)))

    results = asyncio.run(flood())
    refused = [r for r in results if isinstance(r, TooManyRequests)]
    assert len(refused) == 6 and g.hashes == 4
    g.close()
