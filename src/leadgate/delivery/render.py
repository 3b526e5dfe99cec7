"""Field mapping and sandboxed templates: what a destination receives of a lead.

A lead is seen by destinations as a flat mapping (``lead``): its fields, plus
``lead_id``, ``score``, ``grade``, ``source``, ``campaign``, ``assignee``,
``created_at``, ``delivery_id`` and ``idempotency_key``.

A mapping ``{out_name: spec}`` picks values: a spec is a lead key
(``first_name``), a template (any text containing ``{{``, rendered in Jinja2's
sandbox with ``lead`` in scope) or ``{value: constant}``. Missing values are
left out. Templates are compiled once per text and never see anything but the
lead: the sandbox refuses attribute access to internals, so a template from a
config file cannot reach Python objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from leadgate.domain.errors import InvalidConfig

_ENV = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined)
_LENIENT = ImmutableSandboxedEnvironment(autoescape=False)


@lru_cache(maxsize=512)
def _compile(source: str, strict: bool) -> Any:
    return (_ENV if strict else _LENIENT).from_string(source)


def check_template(source: Any, path: str) -> str:
    """Refuse a template that does not compile (at config time, not at 3 a.m.)."""
    if not isinstance(source, str):
        raise InvalidConfig("a template must be text", path=path)
    try:
        _compile(source, False)
    except TemplateError as exc:
        raise InvalidConfig(f"template does not compile: {exc}", path=path) from None
    return source


def render(source: str, lead: Mapping[str, Any], **extra: Any) -> str:
    """Render a template with ``lead`` (missing keys render empty)."""
    try:
        return str(_compile(source, False).render(lead=dict(lead), **extra))
    except TemplateError as exc:
        from leadgate.delivery.base import DeliveryError

        raise DeliveryError(f"template failed: {exc}", retryable=False) from None


def check_mapping(data: Any, path: str) -> dict[str, Any]:
    if not isinstance(data, Mapping) or not data:
        raise InvalidConfig("fields must be a mapping of output name to lead key, "
                            "template or {value: ..}", path=path)
    out: dict[str, Any] = {}
    for name, spec in data.items():
        sub = f"{path}.{name}"
        if isinstance(spec, Mapping):
            if set(spec) != {"value"}:
                raise InvalidConfig("a constant is {value: ...}", path=sub)
        elif isinstance(spec, str):
            if "{{" in spec or "{%" in spec:
                check_template(spec, sub)
        else:
            raise InvalidConfig("expected a lead key, a template or {value: ..}", path=sub)
        out[str(name)] = spec
    return out


def map_fields(mapping: Mapping[str, Any] | None, lead: Mapping[str, Any]) -> dict[str, Any]:
    """Apply a field mapping; with no mapping, every field of the lead and its id."""
    if not mapping:
        return {k: v for k, v in lead.items()
                if k not in ("delivery_id", "idempotency_key") and v is not None}
    out: dict[str, Any] = {}
    for name, spec in mapping.items():
        if isinstance(spec, Mapping):
            out[name] = spec["value"]
        elif "{{" in spec or "{%" in spec:
            out[name] = render(spec, lead)
        elif lead.get(spec) is not None:
            out[name] = lead[spec]
    return out
