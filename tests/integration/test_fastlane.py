"""The capture fast lane answers POST /v1/leads exactly as the full ASGI stack does.

Each request is sent twice to the same workspace: once through the fast lane
(api/fastlane.py) and once through the whole stack (the lane switched off);
status, content type, security headers and body (ids and times aside) must match.
The lane must also really be taken: the stack is counted.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.conftest import WEBSITE_KEY

from leadgate.api.app import create_app
from leadgate.bootstrap import App

_n = itertools.count(1000)


def good() -> dict[str, Any]:
    i = next(_n)
    return {"first_name": "Asha", "phone": f"+91 98123 4{i:04d}", "email": f"a{i}@example.com",
            "city": "Mumbai", "product": "health"}


AUTH = {"Authorization": f"Bearer {WEBSITE_KEY}", "Content-Type": "application/json"}

#: name -> (body maker, extra headers); every body is made fresh per lane
CASES: dict[str, tuple[Any, dict[str, str]]] = {
    "stored": (lambda: json.dumps(good()), {}),
    "malformed json": (lambda: b'{"first_name": ', {}),
    "NaN": (lambda: b'{"first_name": NaN}', {}),
    "not an object": (lambda: b"[1, 2]", {}),
    "NUL removed": (lambda: json.dumps({**good(), "first_name": "As\u0000ha"}), {}),
    "refused lead": (lambda: json.dumps({"first_name": "x", "phone": "12"}), {}),
    "wrong key": (lambda: json.dumps(good()), {"Authorization": "Bearer lg_src_nope"}),
    "no key": (lambda: json.dumps(good()), {"Authorization": ""}),
    "long idempotency key": (lambda: json.dumps(good()), {"Idempotency-Key": "k" * 201}),
    "text/plain": (lambda: json.dumps(good()), {"Content-Type": "text/plain"}),
    "empty body": (lambda: b"", {}),
    "too large": (lambda: json.dumps({**good(), "notes": "x" * 1_100_000}), {}),
}

VOLATILE = {"id", "created_at", "assigned_at", "lead_id", "reference", "assignee", "detail"}


def shape(r: Any) -> tuple[Any, ...]:
    try:
        body = r.json()
    except ValueError:
        body = r.text
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in VOLATILE}
    security = {k: r.headers.get(k) for k in (
        "content-security-policy", "x-frame-options", "x-content-type-options",
        "referrer-policy", "cache-control")}
    return r.status_code, r.headers.get("content-type"), security, body


@pytest.fixture
def lanes(workspace: App, monkeypatch: pytest.MonkeyPatch
          ) -> Iterator[tuple[TestClient, TestClient, list[str]]]:
    stack_calls: list[str] = []
    original = FastAPI.__call__

    async def counted(self: FastAPI, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            stack_calls.append(scope["path"])
        await original(self, scope, receive, send)

    monkeypatch.setattr(FastAPI, "__call__", counted)
    fast = create_app(app=workspace, worker=False)
    stack = create_app(app=workspace, worker=False)
    stack.max_body_bytes = 0  # type: ignore[attr-defined]  # the lane switched off
    with TestClient(fast) as f, TestClient(stack) as s:
        yield f, s, stack_calls


@pytest.mark.parametrize("case", list(CASES))
def test_fast_lane_answers_as_the_stack(case: str, lanes: Any) -> None:
    fast, stack, calls = lanes
    make, extra = CASES[case]
    headers = {**AUTH, **extra}
    if not headers["Authorization"]:
        del headers["Authorization"]
    calls.clear()
    a = fast.post("/v1/leads", content=make(), headers=headers)
    via_stack = list(calls)
    b = stack.post("/v1/leads", content=make(), headers=headers)
    assert shape(a) == shape(b), case
    if case in ("text/plain", "empty body", "too large"):
        assert via_stack == ["/v1/leads"]  # not the lane's shape: the stack answered
    else:
        assert via_stack == []  # the lane answered
    if case == "stored":
        assert a.status_code == 201 and a.json()["status"] == "assigned"
    if case == "NUL removed":
        assert a.status_code == 201
    if case == "refused lead":
        assert a.status_code == 422 and a.json()["code"] == "lead_rejected"


def test_idempotent_replay_and_conflict_through_the_lane(lanes: Any) -> None:
    fast, stack, calls = lanes
    for client, key in ((fast, "idem-fast"), (stack, "idem-stack")):
        body = json.dumps(good())
        first = client.post("/v1/leads", content=body, headers={**AUTH, "Idempotency-Key": key})
        again = client.post("/v1/leads", content=body, headers={**AUTH, "Idempotency-Key": key})
        other = client.post("/v1/leads", content=json.dumps(good()),
                            headers={**AUTH, "Idempotency-Key": key})
        assert first.status_code == 201 and again.status_code == 201
        assert again.json()["id"] == first.json()["id"]
        assert again.headers["idempotent-replayed"] == "true"
        assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict"
    assert calls.count("/v1/leads") == 3  # only the stack client's three requests


def test_other_routes_still_go_through_the_stack(lanes: Any) -> None:
    fast, _stack, calls = lanes
    calls.clear()
    r = fast.get("/v1/leads", headers={"Authorization": f"Bearer {WEBSITE_KEY}"})
    assert r.status_code in (401, 403)
    assert calls == ["/v1/leads"]
