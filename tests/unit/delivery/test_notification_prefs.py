"""Notification preferences as data (domain/notifications.py): what the setup file
and the API accept, the stored form, and which channels an event uses."""

from __future__ import annotations

from typing import Any

import pytest

from leadgate.domain.errors import InvalidConfig
from leadgate.domain.notifications import channels, parse_prefs, public, wants

SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVg=="  # 22 bytes


@pytest.mark.parametrize(("given", "stored"), [
    (None, None),
    ({}, {"email": False, "email_to": None, "webhook": None,
          "events": ["offered", "assigned"]}),
    ({"email": True}, {"email": True, "email_to": None, "webhook": None,
                       "events": ["offered", "assigned"]}),
    ({"email": "Ana@Example.com", "events": ["claimable"]},
     {"email": True, "email_to": "Ana@example.com", "webhook": None, "events": ["claimable"]}),
    ({"webhook": "https://chat.example/h", "events": "assigned"},
     {"email": False, "email_to": None, "webhook": {"url": "https://chat.example/h",
                                                     "secret": None},
      "events": ["assigned"]}),
    ({"webhook": {"url": "http://x.example/h", "secret": SECRET},
      "events": ["assigned", "offered", "claimable"]},
     {"email": False, "email_to": None, "webhook": {"url": "http://x.example/h",
                                                     "secret": SECRET},
      "events": ["offered", "claimable", "assigned"]}),
])
def test_preferences_are_normalised(given: Any, stored: Any) -> None:
    assert parse_prefs(given) == stored


@pytest.mark.parametrize(("given", "path"), [
    ({"email": "nope"}, "notify.email"),
    ({"email": 3}, "notify.email"),
    ({"sms": True}, "notify.sms"),
    ({"events": ["sold"]}, "notify.events[0]"),
    ({"events": {"offered": True}}, "notify.events"),
    ({"webhook": "ftp://x.example"}, "notify.webhook.url"),
    ({"webhook": {"url": "https://x.example", "secret": "whsec_short"}},
     "notify.webhook.secret"),
    ({"webhook": {"url": "https://x.example", "token": "t"}}, "notify.webhook.token"),
    ("yes", "notify"),
])
def test_bad_preferences_are_refused_with_their_path(given: Any, path: str) -> None:
    with pytest.raises(InvalidConfig) as err:
        parse_prefs(given)
    assert err.value.path == path


def test_a_team_takes_a_webhook_and_events_only() -> None:
    assert parse_prefs({"webhook": "https://chat.example/t"}, team=True) == {
        "webhook": {"url": "https://chat.example/t", "secret": None},
        "events": ["offered", "assigned"]}
    with pytest.raises(InvalidConfig):
        parse_prefs({"email": True}, team=True)


def test_an_event_uses_the_channels_that_are_on() -> None:
    both = parse_prefs({"email": True, "webhook": "https://h.example", "events": ["offered"]})
    assert channels(both, "offered") == ("email", "webhook")
    assert channels(both, "assigned") == () and not wants(both, "claimable")
    assert not wants(parse_prefs({}), "offered")  # events chosen, no channel on
    assert not wants(None, "offered")


def test_shown_preferences_hide_the_secret_unless_asked() -> None:
    p = parse_prefs({"email": "a@example.com", "webhook": {"url": "https://h.example",
                                                            "secret": SECRET}})
    assert public(p) == {"email": "a@example.com", "events": ["offered", "assigned"],
                         "webhook": {"url": "https://h.example", "secret": "***"}}
    assert public(p, show_secret=True)["webhook"]["secret"] == SECRET  # type: ignore[index]
    assert parse_prefs(public(p)) is not None  # an export applies again
