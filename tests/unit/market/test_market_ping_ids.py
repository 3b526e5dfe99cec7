from __future__ import annotations

from datetime import timedelta

import pytest
from market_factories import NOW, D

from leadgate.domain.market.ping import (
    PING_ERRORS,
    PingRefused,
    Quote,
    lead_hash,
    sign_ping,
    verify_ping,
)

SECRET = "s3cret-for-tests"
PARTIAL = {"state": "CA", "postal_code": "94105", "age": 40}
TTL = timedelta(minutes=5)


def _token() -> str:
    return sign_ping(Quote.for_lead("insurance", D("12.50"), PARTIAL), SECRET, NOW, TTL)


def test_ping_id_round_trips_the_quoted_price_campaign_and_lead_hash() -> None:
    v = verify_ping(_token(), SECRET, NOW + timedelta(minutes=4))
    assert v.quote.price == D("12.50") and v.quote.campaign == "insurance"
    assert v.quote.fields == ("age", "postal_code", "state")
    assert v.quote.lead_hash == lead_hash(PARTIAL, ["state", "age", "postal_code"])
    assert v.issued_at == NOW and v.expires_at == NOW + TTL


def test_expired_ping_id_is_refused_with_ping_expired() -> None:
    with pytest.raises(PingRefused) as err:
        verify_ping(_token(), SECRET, NOW + TTL)
    assert err.value.code == "ping_expired"


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"),          # signature changed
    lambda t: "eyJwIjoiOTkuOTkifQ" + t[t.index("."):],               # payload swapped
    lambda t: t.replace(".", ""),                                     # not an id at all
    lambda t: "",
    lambda t: t + ".x",
])
def test_forged_or_altered_ping_id_is_refused_with_ping_invalid(mangle: object) -> None:
    with pytest.raises(PingRefused) as err:
        verify_ping(mangle(_token()), SECRET, NOW)  # type: ignore[operator]
    assert err.value.code == "ping_invalid"


def test_ping_id_signed_with_another_secret_is_invalid_even_when_expired() -> None:
    with pytest.raises(PingRefused) as err:
        verify_ping(_token(), "another-secret", NOW + timedelta(days=1))
    assert err.value.code == "ping_invalid"


def test_posted_lead_must_match_the_quoted_partial_lead() -> None:
    full = {**PARTIAL, "first_name": "Ana", "phone": "+14155550100"}
    assert verify_ping(_token(), SECRET, NOW, lead=full).quote.price == D("12.50")
    with pytest.raises(PingRefused) as err:
        verify_ping(_token(), SECRET, NOW, lead={**full, "age": 41})
    assert err.value.code == "ping_lead_mismatch"
    assert set(PING_ERRORS) == {"ping_invalid", "ping_expired", "ping_lead_mismatch"}


def test_ping_ids_are_deterministic_given_their_inputs() -> None:
    assert _token() == _token()
    with pytest.raises(ValueError):
        sign_ping(Quote.for_lead("c", D(1), {}), SECRET, NOW, timedelta(0))
