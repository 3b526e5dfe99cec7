"""One interface for every destination kind, like routing methods.

A destination kind (``http``, ``email``, ``sftp``, ``database``, ``hubspot``,
``salesforce``, ``sms``, ``dialler``) is a :class:`Kind` registered by name. It
validates its spec once (:meth:`Kind.parse`), builds what it would send for a lead
(:meth:`Kind.prepare`, used by dry-run previews) and sends it (:meth:`Kind.send`),
answering an :class:`Outcome` and what was exchanged (:class:`Exchange`), which the
service stores as a delivery attempt with secrets redacted.

Batch kinds (``sftp``) send many leads at once through :meth:`Kind.send_batch`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from leadgate.domain.delivery import DEFAULT_SCHEDULE, Hold, parse_hold, parse_schedule
from leadgate.domain.errors import InvalidConfig
from leadgate.domain.routing.durations import parse_duration

OUTCOMES = ("accepted", "rejected", "duplicate", "error")
#: Longest request or response body kept in an attempt row.
KEEP_BYTES = 4000
REDACTED = "***"
COMMON_KEYS = frozenset({"key", "name", "kind", "active", "timeout", "concurrency", "retry",
                         "hold"})


@dataclass(frozen=True)
class Outcome:
    """What the receiver made of a lead."""

    status: str  # accepted | rejected | duplicate | error
    reason: str = ""
    retryable: bool = False
    external_id: str | None = None
    price: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "retryable": self.retryable,
                "external_id": self.external_id, "price": self.price}


@dataclass
class Exchange:
    """What was sent and received in one attempt (stored, truncated and redacted)."""

    request: dict[str, Any] = field(default_factory=dict)
    response: dict[str, Any] | None = None


@dataclass(frozen=True)
class Common:
    """Settings every destination has."""

    timeout: float = 10.0
    concurrency: int = 4
    max_attempts: int = 10
    schedule: tuple[float, ...] = DEFAULT_SCHEDULE
    hold: Hold = field(default_factory=Hold)


@dataclass(frozen=True)
class Spec:
    """A validated destination: its kind's config plus the common settings."""

    key: str
    kind: str
    config: Mapping[str, Any]
    common: Common
    raw: Mapping[str, Any]
    #: an implementation outside the registry (notifications to reps bring their own)
    kind_impl: Kind | None = field(default=None, compare=False)

    @property
    def impl(self) -> Kind:
        return self.kind_impl or KINDS[self.kind]


@dataclass
class SendContext:
    """The I/O a destination may use, injected by the service (tests pass their own)."""

    http: httpx.Client
    now: datetime
    timeout: float = 10.0
    clock: Callable[[], float] = time.monotonic
    #: the wall clock at sending: signature timestamps must be real (receivers
    #: refuse stale ones), whatever clock the service runs on
    wall: Callable[[], datetime] = field(default_factory=lambda: _utcnow)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class DeliveryError(Exception):
    """A failure while sending: ``retryable`` tells the service whether to try again."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Kind:
    """A destination kind. Subclasses set ``name`` and implement parse/prepare/send."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    batch: ClassVar[bool] = False

    def parse(self, data: Mapping[str, Any], path: str) -> dict[str, Any]:
        """Validate the kind's own keys; return the config the other methods get."""
        raise NotImplementedError

    def batched(self, config: Mapping[str, Any]) -> bool:
        """Does this destination collect leads and send them together
        (:meth:`send_batch`, with ``batch_size`` and ``batch_every`` in ``config``)?"""
        return self.batch

    def secrets(self, config: Mapping[str, Any]) -> list[str]:
        """Secret values in ``config``: never stored in attempts, never exported."""
        return []

    def prepare(self, config: Mapping[str, Any], lead: Mapping[str, Any]) -> dict[str, Any]:
        """What would be sent for ``lead`` (no I/O): for previews and the attempt row."""
        raise NotImplementedError

    def wire(self, config: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """Kinds sent over HTTP: the ``auth`` and ``sign`` settings that
        :func:`leadgate.delivery.http.exchange` adds to every request; None otherwise."""
        return None

    def preview(self, config: Mapping[str, Any], lead: Mapping[str, Any]) -> dict[str, Any]:
        """The request as it would go out (no I/O): :meth:`prepare` plus, for HTTP kinds,
        the authentication and signature headers with their values as ``***``."""
        req = self.prepare(config, lead)
        wire = self.wire(config)
        if wire and isinstance(req.get("headers"), Mapping):
            from leadgate.delivery.http import preview_headers

            req = {**req, "headers": preview_headers(wire, req["headers"], lead)}
        return req

    def send(self, config: Mapping[str, Any], lead: Mapping[str, Any],
             ctx: SendContext) -> tuple[Outcome, Exchange]:
        raise NotImplementedError

    def send_batch(self, config: Mapping[str, Any], leads: Sequence[Mapping[str, Any]],
                   ctx: SendContext) -> tuple[Outcome, Exchange]:
        raise NotImplementedError


def parse_batch(data: Any, path: str, *, size: int = 100,
                every: str = "1h") -> dict[str, Any]:
    """``{size: N, every: duration}``: send when N leads wait, or ``every`` after the
    oldest one started waiting. Returns ``batch_size`` and ``batch_every`` (seconds)."""
    if data is None or data is True:
        data = {}
    if not isinstance(data, Mapping):
        raise InvalidConfig("expected {size: N, every: duration}", path=path)
    unknown_keys(data, {"size", "every"}, path)
    n = data.get("size", size)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise InvalidConfig("size must be a whole number >= 1", path=f"{path}.size")
    wait = parse_duration(data.get("every", every), path=f"{path}.every")
    return {"batch_size": n, "batch_every": wait.total_seconds()}


KINDS: dict[str, Kind] = {}


def register(cls: type[Kind]) -> type[Kind]:
    KINDS[cls.name] = cls()
    return cls


def parse_spec(data: Any, path: str = "destination") -> Spec:
    """Validate a destination entry (``destinations[i]`` of the setup file)."""
    if not isinstance(data, Mapping):
        raise InvalidConfig("a destination is a mapping", path=path)
    key = data.get("key")
    if not isinstance(key, str) or not key.strip():
        raise InvalidConfig("key must be a non-empty string", path=f"{path}.key")
    kind = data.get("kind")
    if kind not in KINDS:
        raise InvalidConfig(f"kind must be one of {', '.join(sorted(KINDS))}, got {kind!r}",
                            path=f"{path}.kind")
    common = Common()
    kw: dict[str, Any] = {}
    if data.get("timeout") is not None:
        kw["timeout"] = parse_duration(data["timeout"], path=f"{path}.timeout").total_seconds()
    if data.get("concurrency") is not None:
        c = data["concurrency"]
        if not isinstance(c, int) or isinstance(c, bool) or c < 1:
            raise InvalidConfig("concurrency must be a whole number >= 1",
                                path=f"{path}.concurrency")
        kw["concurrency"] = c
    retry = data.get("retry")
    if retry is not None:
        if not isinstance(retry, Mapping):
            raise InvalidConfig("retry must be a mapping {max_attempts, schedule}",
                                path=f"{path}.retry")
        for k in retry:
            if k not in ("max_attempts", "schedule"):
                raise InvalidConfig(f"unknown key {k!r}", path=f"{path}.retry.{k}")
        if retry.get("max_attempts") is not None:
            n = retry["max_attempts"]
            if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 100:
                raise InvalidConfig("max_attempts must be a whole number from 1 to 100",
                                    path=f"{path}.retry.max_attempts")
            kw["max_attempts"] = n
        if retry.get("schedule") is not None:
            kw["schedule"] = parse_schedule(retry["schedule"], f"{path}.retry.schedule")
    if data.get("hold") is not None:
        kw["hold"] = parse_hold(data["hold"], f"{path}.hold")
    common = Common(**kw)
    impl = KINDS[kind]
    own = {k: v for k, v in data.items() if k not in COMMON_KEYS}
    config = impl.parse(own, path)
    return Spec(key, kind, config, common, dict(data))


def unknown_keys(data: Mapping[str, Any], allowed: set[str], path: str) -> None:
    for k in data:
        if k not in allowed:
            raise InvalidConfig(f"unknown key {k!r}; expected one of "
                                f"{', '.join(sorted(allowed | COMMON_KEYS))}",
                                path=f"{path}.{k}")


def text(data: Mapping[str, Any], key: str, path: str, *, required: bool = True,
         default: str | None = None) -> str | None:
    v = data.get(key, default)
    if v is None:
        if required:
            raise InvalidConfig(f"{key} is required", path=f"{path}.{key}")
        return None
    if not isinstance(v, str) or not v.strip():
        raise InvalidConfig(f"{key} must be non-empty text", path=f"{path}.{key}")
    return v


def truncate(body: str | bytes | None, limit: int = KEEP_BYTES) -> str | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return body if len(body) <= limit else body[:limit] + f"... [{len(body) - limit} more]"


def redact(value: Any, secrets: Sequence[str]) -> Any:
    """Replace every secret (and its obvious encodings) in a JSON-able value."""
    words = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
    if not words:
        return value
    if isinstance(value, str):
        for s in words:
            value = value.replace(s, REDACTED)
        return value
    if isinstance(value, Mapping):
        return {k: redact(v, words) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, words) for v in value]
    return value


def elapsed_ms(start: float, clock: Callable[[], float]) -> float:
    return round((clock() - start) * 1000, 3)


def as_timedelta(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)
