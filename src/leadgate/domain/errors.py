"""The one exception tree of leadgate.

Every error leadgate raises on purpose derives from :class:`LeadgateError` and
carries a stable, machine-readable ``code``. The API maps them to RFC 9457
problem+json responses in exactly one place (``leadgate.api.errors``)::

    LeadgateError                      code          http
    +-- InvalidInput                   invalid_input  422
    |   +-- MalformedRequest           malformed_json 400
    |   +-- InvalidConfig              invalid_config 422  (path: "flows[0].rules[2].when")
    |   |   +-- InvalidCondition       invalid_condition
    |   |   +-- InvalidFlow            invalid_flow
    |   |   +-- InvalidCampaign        invalid_campaign
    |   +-- LeadRejected               lead_rejected  422  (reasons: per-field codes)
    +-- NotFound                       not_found      404
    +-- Conflict                       conflict       409
    |   +-- IdempotencyConflict        idempotency_conflict
    +-- AuthError                      unauthorized   401
    |   +-- Forbidden                  forbidden      403
    +-- RoutingError                   routing_error  422 (a bad flow is refused at save time)
    +-- UnsupportedMediaType           unsupported_media_type 415
    +-- TooManyRequests                too_many_requests 429 (retry_after: seconds)

Third-party errors (SQLAlchemy, httpx, YAML) are translated where they enter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class LeadgateError(Exception):
    """Root of every error leadgate raises on purpose."""

    code: str = "error"
    status: int = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def details(self) -> dict[str, Any]:
        """Extra members for the problem document."""
        return {}


class InvalidInput(LeadgateError):
    code = "invalid_input"
    status = 422


class MalformedRequest(InvalidInput):
    """The request body cannot be read at all (empty, not JSON)."""

    code = "malformed_json"
    status = 400


class InvalidConfig(InvalidInput):
    """A configuration (file, flow, campaign) is refused; ``path`` points at the culprit."""

    code = "invalid_config"

    def __init__(
        self,
        message: str,
        *,
        path: str = "",
        code: str | None = None,
        errors: Sequence[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(f"{path}: {message}" if path else message, code=code)
        self.path = path
        self.reason = message
        self.errors: list[tuple[str, str]] = list(errors or [(path, message)])

    def details(self) -> dict[str, Any]:
        return {"errors": [{"path": p, "message": m} for p, m in self.errors]}


class InvalidCondition(InvalidConfig):
    code = "invalid_condition"


class InvalidFlow(InvalidConfig):
    code = "invalid_flow"


class InvalidCampaign(InvalidConfig):
    code = "invalid_campaign"


@dataclass(frozen=True)
class Reason:
    """Why a lead (or a field of it) was refused: a stable code and a sentence."""

    code: str
    message: str
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field, "message": self.message}


class LeadRejected(InvalidInput):
    """A lead was refused by the gatekeeper. It is still recorded with its reasons."""

    code = "lead_rejected"

    def __init__(self, reasons: Sequence[Reason], *, lead_id: int | None = None) -> None:
        super().__init__(reasons[0].message if reasons else "lead rejected")
        self.reasons = list(reasons)
        self.lead_id = lead_id

    def details(self) -> dict[str, Any]:
        d: dict[str, Any] = {"reasons": [r.to_dict() for r in self.reasons]}
        if self.lead_id is not None:
            d["lead_id"] = self.lead_id
        return d


class NotFound(LeadgateError):
    code = "not_found"
    status = 404


class Conflict(LeadgateError):
    code = "conflict"
    status = 409


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


class AuthError(LeadgateError):
    code = "unauthorized"
    status = 401


class Forbidden(AuthError):
    code = "forbidden"
    status = 403


class RoutingError(LeadgateError):
    code = "routing_error"
    status = 422


class UnsupportedMediaType(LeadgateError):
    """The body is not of a type the endpoint reads (e.g. not application/json)."""

    code = "unsupported_media_type"
    status = 415


class TooManyRequests(LeadgateError):
    """Too many attempts; ``retry_after`` says in how many seconds to try again."""

    code = "too_many_requests"
    status = 429

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = max(1, int(retry_after))

    def details(self) -> dict[str, Any]:
        return {"retry_after": self.retry_after}


def path_join(base: str, key: str | int) -> str:
    """Build config paths such as ``rules[2].when`` consistently."""
    if isinstance(key, int):
        return f"{base}[{key}]"
    return f"{base}.{key}" if base else key


def as_mapping(
    value: Any, path: str, exc: type[InvalidConfig] = InvalidConfig
) -> Mapping[str, Any]:
    """Return ``value`` if it is a mapping, else raise ``exc`` naming ``path``."""
    if not isinstance(value, Mapping):
        raise exc(f"expected a mapping, got {type(value).__name__}", path=path)
    return value
