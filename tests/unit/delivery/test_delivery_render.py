"""Field mappings and templated bodies: what a destination receives of a lead, and
the Jinja2 sandbox refusing to hand a config file's template anything but the lead."""

from __future__ import annotations

from typing import Any

import pytest

from leadgate.delivery.base import DeliveryError
from leadgate.delivery.render import check_mapping, check_template, map_fields, render
from leadgate.domain.errors import InvalidConfig

LEAD: dict[str, Any] = {"first_name": "Asha", "last_name": "Rao", "phone": "+919812345678",
                        "city": "Mumbai", "score": 42.0, "email": None, "lead_id": 7,
                        "delivery_id": 3, "idempotency_key": "abc123"}


@pytest.mark.parametrize(("mapping", "expected"), [
    ({"Phone": "phone"}, {"Phone": "+919812345678"}),
    ({"name": "{{ lead.first_name }} {{ lead.last_name }}"}, {"name": "Asha Rao"}),
    ({"channel": {"value": "web"}}, {"channel": "web"}),
    ({"n": {"value": 3}, "flag": {"value": True}}, {"n": 3, "flag": True}),
    ({"Email": "email", "Phone": "phone"}, {"Phone": "+919812345678"}),  # None is left out
    ({"Fax": "fax"}, {}),  # a missing key is left out
    ({"missing": "{{ lead.fax }}"}, {"missing": ""}),  # a missing key renders empty
    ({"key": "idempotency_key"}, {"key": "abc123"}),
])
def test_map_fields_picks_keys_templates_and_constants(mapping: dict[str, Any],
                                                       expected: dict[str, Any]) -> None:
    assert map_fields(mapping, LEAD) == expected


def test_without_a_mapping_every_field_goes_except_delivery_ids_and_empty_values() -> None:
    out = map_fields(None, LEAD)
    assert out == {"first_name": "Asha", "last_name": "Rao", "phone": "+919812345678",
                   "city": "Mumbai", "score": 42.0, "lead_id": 7}


def test_mapping_keeps_the_order_it_was_written_in() -> None:
    assert list(map_fields({"z": "city", "a": "phone", "m": {"value": 1}}, LEAD)) == \
        ["z", "a", "m"]


@pytest.mark.parametrize(("data", "path", "message"), [
    ({}, "d.fields", "fields must be a mapping"),
    (["phone"], "d.fields", "fields must be a mapping"),
    ({"a": {"value": 1, "extra": 2}}, "d.fields.a", "a constant is {value: ...}"),
    ({"a": 12}, "d.fields.a", "expected a lead key, a template"),
    ({"a": "{{ lead.first_name "}, "d.fields.a", "template does not compile"),
])
def test_bad_mappings_are_refused_with_their_path(data: Any, path: str, message: str) -> None:
    with pytest.raises(InvalidConfig) as exc:
        check_mapping(data, "d.fields")
    assert exc.value.path == path
    assert message in exc.value.reason


def test_templates_render_filters_and_conditions() -> None:
    src = "{{ lead.first_name | upper }}{% if lead.score > 40 %} (hot){% endif %}"
    assert render(src, LEAD) == "ASHA (hot)"
    assert check_template(src, "p") == src
    with pytest.raises(InvalidConfig):
        check_template(12, "p")


@pytest.mark.parametrize("attack", [
    "{{ lead.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ lead.get.__globals__ }}",
    "{{ lead.items.__self__.__class__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ (lead | attr('__class__')).__base__.__subclasses__() }}",
    "{{ lead.first_name.__class__.__base__.__subclasses__() }}",
    "{{ ''.format.__globals__ }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
])
def test_sandbox_refuses_attribute_access_tricks(attack: str) -> None:
    # either the sandbox refuses outright, or the internals are unreachable (render empty)
    try:
        out = render(attack, LEAD)
    except DeliveryError as exc:
        assert "template failed" in str(exc) and exc.retryable is False
        return
    assert "class" not in out and "function" not in out and "module" not in out
    assert "uid=" not in out


@pytest.mark.parametrize("attack", [
    "{{ lead.update({'first_name': 'X'}) }}",
    "{{ lead.pop('phone') }}",
    "{{ lead.clear() }}",
    "{% set _ = lead.setdefault('x', 1) %}",
])
def test_the_immutable_sandbox_refuses_to_change_the_lead(attack: str) -> None:
    lead = dict(LEAD)
    with pytest.raises(DeliveryError, match="template failed"):
        render(attack, lead)
    assert lead == LEAD


def test_a_template_sees_only_the_lead() -> None:
    assert render("{{ settings }}{{ config }}{{ request }}", LEAD) == ""
