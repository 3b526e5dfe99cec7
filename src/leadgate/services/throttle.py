"""A small in-process sliding-window limiter (per key: an account, an address).

Each key keeps the times of its attempts inside the window; an attempt is
allowed while fewer than ``limit`` remain. Memory is bounded: at most
``max_keys`` keys are kept (expired ones go first, then the oldest). It lives in
one process: with several ``serve`` processes each counts on its own, so the
effective limit is the limit times the number of processes.
"""

from __future__ import annotations

import threading
from collections import deque


class SlidingWindow:
    def __init__(self, limit: int, window_seconds: float, *, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        q = self._hits.get(key)
        if q is None:
            return None
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            del self._hits[key]
            return None
        return q

    def retry_after(self, key: str, now: float) -> float:
        """0 when ``key`` may try now, else the seconds until it may."""
        with self._lock:
            q = self._recent(key, now)
            if q is None or len(q) < self.limit:
                return 0.0
            return max(q[len(q) - self.limit] + self.window - now, 0.001)

    def hit(self, key: str, now: float) -> None:
        """Count one attempt for ``key``."""
        with self._lock:
            q = self._recent(key, now)
            if q is None:
                if len(self._hits) >= self.max_keys:
                    self._shrink(now)
                q = self._hits[key] = deque()
            q.append(now)
            while len(q) > self.limit:
                q.popleft()

    def reset(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)

    def __len__(self) -> int:
        return len(self._hits)

    def _shrink(self, now: float) -> None:
        for key in list(self._hits):
            self._recent(key, now)
        while len(self._hits) >= self.max_keys:
            del self._hits[next(iter(self._hits))]
