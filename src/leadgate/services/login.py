"""Password logins that a flood cannot turn into an outage or an email oracle.

Checking a password is deliberately expensive (Argon2: ~64 MiB and tens of
milliseconds each), so the console login:

- is throttled per account and per client address (sliding windows, see
  :mod:`leadgate.services.throttle`): past the limit the attempt is refused with
  :class:`TooManyRequests` (429, ``Retry-After``) *before* any hash runs; a
  successful login clears the account's count;
- hashes on its own small executor (``password_hash_concurrency`` threads,
  2 by default), never on the thread pool that serves leads, behind a semaphore
  of the same size, so at most that many Argon2 checks use memory at once; when
  more than ``MAX_WAITING`` attempts already wait for a hasher, the attempt is
  refused (429) instead of queueing without end;
- always runs exactly one Argon2 check, also for an unknown email, an inactive
  user or a user without a password (against a dummy hash made with the same
  parameters), so the answer time does not tell which emails exist.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from leadgate.domain.errors import AuthError, TooManyRequests
from leadgate.services import security
from leadgate.services.throttle import SlidingWindow

MAX_WAITING = 32


@dataclass(frozen=True)
class LoginCandidate:
    """What the login needs to know about the user an email names."""

    user_id: int
    password_hash: str | None
    active: bool


Lookup = Callable[[str], Awaitable[LoginCandidate | None]]


class LoginGuard:
    def __init__(self, *, per_account: int, per_address: int, window_seconds: float,
                 hash_concurrency: int, now: Callable[[], float]) -> None:
        self.by_account = SlidingWindow(per_account, window_seconds)
        self.by_address = SlidingWindow(per_address, window_seconds)
        self.now = now
        self.hash_concurrency = hash_concurrency
        self._slots = threading.BoundedSemaphore(hash_concurrency)
        self._executor: ThreadPoolExecutor | None = None
        self._dummy: str | None = None
        self._lock = threading.Lock()
        self.waiting = 0
        #: Argon2 checks run so far, and the most that ever ran at once (for tests
        #: and /healthz-style monitoring; counting, not timing).
        self.hashes = 0
        self.running = 0
        self.peak_running = 0

    @property
    def executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self.hash_concurrency,
                                                    thread_name_prefix="leadgate-hash")
            return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def _check(self, password_hash: str | None, password: str) -> bool:
        """One Argon2 verification, at most ``hash_concurrency`` at once."""
        with self._slots:
            with self._lock:
                self.hashes += 1
                self.running += 1
                self.peak_running = max(self.peak_running, self.running)
            try:
                if password_hash is None:
                    if self._dummy is None:
                        self._dummy = security.hash_password(secrets.token_urlsafe(16))
                    security.verify_password(self._dummy, password)
                    return False
                return security.verify_password(password_hash, password)
            finally:
                with self._lock:
                    self.running -= 1

    def _refuse(self, seconds: float, message: str) -> TooManyRequests:
        return TooManyRequests(message, retry_after=int(seconds + 0.999),
                               code="too_many_attempts")

    async def attempt(self, email: str, password: str, address: str,
                      lookup: Lookup) -> int:
        """The id of the user ``email`` and ``password`` log in, else
        :class:`AuthError` (wrong credentials) or :class:`TooManyRequests`."""
        account = email.strip().lower()
        now = self.now()
        wait = max(self.by_account.retry_after(account, now),
                   self.by_address.retry_after(address, now))
        if wait:
            raise self._refuse(wait, "too many login attempts; try again later")
        if self.waiting >= MAX_WAITING:
            raise self._refuse(1, "too many logins at once; try again in a moment")
        self.by_account.hit(account, now)
        self.by_address.hit(address, now)
        self.waiting += 1
        try:
            found = await lookup(account)
            usable = found is not None and found.active and bool(found.password_hash)
            stored = found.password_hash if found is not None and usable else None
            loop = asyncio.get_running_loop()
            ok = await loop.run_in_executor(self.executor, self._check, stored, password)
        finally:
            self.waiting -= 1
        if not ok or found is None or not usable:
            raise AuthError("wrong email or password")
        self.by_account.reset(account)
        return found.user_id
