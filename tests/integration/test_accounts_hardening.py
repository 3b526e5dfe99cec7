"""Login floods, sessions, tokens, deactivation, production settings, headers and
the OpenAPI document. SQLite and PostgreSQL; counts, never timings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select
from tests.conftest import PASSWORD, SETUP, FakeClock, create_users, make_app
from typer.testing import CliRunner

from leadgate.api.app import create_app
from leadgate.bootstrap import App
from leadgate.cli import cli
from leadgate.config import DEV_SECRET, Settings
from leadgate.services import security
from leadgate.store import models as m

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def tokens(workspace: App) -> dict[str, str]:
    return create_users(workspace)


@pytest.fixture
def client(workspace: App, tokens: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(app=workspace, worker=False)) as c:
        yield c


def csrf(client: TestClient, path: str = "/console/login") -> str:
    found = CSRF.search(client.get(path).text)
    assert found
    return found.group(1)


def login(client: TestClient, email: str = "boss@example.com",
          password: str = PASSWORD) -> httpx2.Response:
    return client.post("/console/login", data={"email": email, "password": password,
                                               "csrf_token": csrf(client)},
                       follow_redirects=False)


def test_eleventh_wrong_password_is_429_with_retry_after_and_no_hash(
        client: TestClient, workspace: App) -> None:
    guard = workspace.login_guard
    for _ in range(10):
        r = login(client, password="wrong-password")
        assert r.status_code == 200 and "Wrong email or password." in r.text
    assert guard.hashes == 10
    r = login(client, password="wrong-password")
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    assert "Too many login attempts. Try again in" in r.text
    r = login(client)  # the right password is refused too while throttled
    assert r.status_code == 429
    assert guard.hashes == 10
    workspace.clock.advance(seconds=workspace.settings.login_window_seconds + 1)  # type: ignore[attr-defined]
    assert login(client).status_code == 303


def test_unknown_email_costs_one_hash_like_a_known_one(client: TestClient,
                                                       workspace: App) -> None:
    guard = workspace.login_guard
    unknown = login(client, email="nobody@example.com", password="wrong-password")
    assert guard.hashes == 1
    known = login(client, password="wrong-password")
    assert guard.hashes == 2
    assert unknown.status_code == known.status_code == 200
    assert "Wrong email or password." in unknown.text and "Wrong email or password." in known.text


def test_logout_ends_the_session_for_a_copied_cookie(client: TestClient,
                                                     workspace: App) -> None:
    assert login(client).status_code == 303
    cookie = client.cookies.get("leadgate_console")
    assert cookie
    assert client.get("/console/leads").status_code == 200
    r = client.post("/console/logout", data={"csrf_token": csrf(client, "/console/leads")},
                    follow_redirects=False)
    assert r.status_code == 303
    with workspace.reader() as uow:
        assert uow.session.scalars(select(m.ConsoleSession)).all() == []
    client.cookies.clear()
    client.cookies.set("leadgate_console", cookie, path="/console")
    r = client.get("/console/leads", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")


def test_session_expires_server_side(client: TestClient, workspace: App) -> None:
    assert login(client).status_code == 303
    workspace.clock.advance(hours=workspace.settings.session_hours, seconds=1)  # type: ignore[attr-defined]
    assert client.get("/console/leads", follow_redirects=False).status_code == 303


def test_first_token_from_the_console_then_list_and_revoke(client: TestClient,
                                                           workspace: App) -> None:
    assert login(client, "a1@example.com").status_code == 303
    r = client.post("/console/tokens", data={"name": "CRM sync", "expires_days": "30",
                                             "csrf_token": csrf(client, "/console/tokens")})
    assert r.status_code == 201
    secret = re.search(r'id="token-secret">(lg_usr_[^<]+)<', r.text).group(1)  # type: ignore[union-attr]
    me = client.get("/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json()["name"] == "a1@example.com"
    page = client.get("/console/tokens").text
    assert "CRM sync" in page and secret not in page
    assert security.display_prefix(secret) in page
    with workspace.reader() as uow:
        token = uow.session.scalars(select(m.ApiToken).where(m.ApiToken.name == "CRM sync")).one()
        assert token.last_used_at == workspace.clock()
        assert token.expires_at == workspace.clock() + timedelta(days=30)
        token_id = token.id
    r = client.post(f"/console/tokens/{token_id}/revoke",
                    data={"csrf_token": csrf(client, "/console/tokens")}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_someone_elses_token_cannot_be_revoked(client: TestClient, workspace: App,
                                               tokens: dict[str, str]) -> None:
    with workspace.reader() as uow:
        boss_token = uow.session.scalars(select(m.ApiToken).join(m.User)
                                         .where(m.User.email == "boss@example.com")).first()
        assert boss_token is not None
    r = client.delete(f"/v1/tokens/{boss_token.id}",
                      headers={"Authorization": f"Bearer {tokens['a1']}"})
    assert r.status_code == 404
    assert client.get("/v1/me", headers={"Authorization": f"Bearer {tokens['manager']}"}
                      ).status_code == 200


def test_expired_token_is_refused(client: TestClient, workspace: App,
                                  tokens: dict[str, str]) -> None:
    h = {"Authorization": f"Bearer {tokens['manager']}"}
    made = client.post("/v1/tokens", json={"name": "short", "expires_days": 1}, headers=h)
    assert made.status_code == 201 and made.json()["expires_at"]
    short = {"Authorization": f"Bearer {made.json()['token']}"}
    assert client.get("/v1/me", headers=short).status_code == 200
    workspace.clock.advance(days=1)  # type: ignore[attr-defined]
    r = client.get("/v1/me", headers=short)
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    listed = client.get("/v1/tokens", headers=h).json()["items"]
    assert {t["name"] for t in listed} == {"test", "short"}
    assert all("token" not in t for t in listed)


def test_last_used_is_written_at_most_once_a_minute(client: TestClient, workspace: App,
                                                    tokens: dict[str, str]) -> None:
    h = {"Authorization": f"Bearer {tokens['manager']}"}
    first = workspace.clock()
    client.get("/v1/me", headers=h)
    workspace.clock.advance(seconds=30)  # type: ignore[attr-defined]
    client.get("/v1/me", headers=h)

    def last_used() -> object:
        with workspace.reader() as uow:
            return uow.session.scalars(select(m.ApiToken).join(m.User)
                                       .where(m.User.email == "boss@example.com")).one() \
                .last_used_at
    assert last_used() == first
    workspace.clock.advance(seconds=31)  # type: ignore[attr-defined]
    client.get("/v1/me", headers=h)
    assert last_used() == workspace.clock()


def test_deactivating_a_user_stops_sessions_and_tokens_at_once(
        client: TestClient, workspace: App, tokens: dict[str, str]) -> None:
    with workspace.uow() as uow:
        from leadgate.services import accounts

        accounts.create_user(uow, "root@example.com", PASSWORD, "admin", workspace.clock())
        uow.commit()
    agent_client = TestClient(client.app)
    assert login(agent_client, "a1@example.com").status_code == 303
    assert agent_client.get("/console/leads").status_code == 200
    agent_token = {"Authorization": f"Bearer {tokens['a1']}"}
    assert client.get("/v1/me", headers=agent_token).status_code == 200

    # a manager may not, an admin may
    assert login(client).status_code == 303
    assert client.get("/console/users").status_code == 403
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/leads")})
    assert login(client, "root@example.com").status_code == 303
    with workspace.reader() as uow:
        a1 = uow.session.scalars(select(m.User).where(m.User.email == "a1@example.com")).one()
    page = client.get("/console/users")
    assert page.status_code == 200 and "a1@example.com" in page.text
    r = client.post(f"/console/users/{a1.id}/deactivate",
                    data={"csrf_token": csrf(client, "/console/users")}, follow_redirects=False)
    assert r.status_code == 303

    assert agent_client.get("/console/leads", follow_redirects=False).status_code == 303
    assert client.get("/v1/me", headers=agent_token).status_code == 401
    assert login(agent_client, "a1@example.com").status_code == 200  # cannot log in again
    with workspace.reader() as uow:
        assert uow.session.scalars(select(m.ConsoleSession).where(
            m.ConsoleSession.user_id == a1.id)).all() == []


def test_security_headers_on_console_and_api(client: TestClient,
                                             tokens: dict[str, str]) -> None:
    pages = [client.get("/console/login"),
             client.get("/v1/leads", headers={"Authorization": f"Bearer {tokens['manager']}"}),
             client.get("/v1/leads"), client.get("/healthz")]
    for r in pages:
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        assert r.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in pages[0].headers["content-security-policy"]
    static = client.get("/console/static/console.js")
    assert static.status_code == 200 and static.headers.get("cache-control") != "no-store"


def test_console_templates_have_no_inline_script_or_handlers() -> None:
    root = Path(__file__).resolve().parents[2] / "src/leadgate/web/templates"
    for path in root.glob("*.html"):
        text = path.read_text()
        assert not re.search(r"\son[a-z]+\s*=", text), path.name
        assert not re.search(r"<script(?![^>]*\ssrc=)", text), path.name
        assert "style=" not in text and "hx-on" not in text, path.name


def test_405_carries_allow_listing_every_method(client: TestClient) -> None:
    r = client.request("PATCH", "/v1/leads")
    assert r.status_code == 405
    assert r.headers["content-type"].startswith("application/problem+json")
    assert set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    r = client.request("DELETE", "/console/login")
    assert r.status_code == 405 and set(r.headers["allow"].split(", ")) == \
        {"GET", "HEAD", "POST"}


def test_openapi_describes_errors_as_problem_json(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert "Problem" in doc["components"]["schemas"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for status, resp in op["responses"].items():
                if int(status) >= 400:
                    assert list(resp["content"]) == ["application/problem+json"], \
                        (method, path, status)
    post = doc["paths"]["/v1/leads"]["post"]["responses"]
    assert {"400", "401", "403", "409", "413", "415", "422"} <= set(post)
    one = doc["paths"]["/v1/leads/{lead_id}"]["get"]["responses"]
    assert {"401", "403", "404", "422"} <= set(one)
    assert set(doc["paths"]["/healthz"]["get"]["responses"]) == {"200"}
    params = {p["name"]: p for p in doc["paths"]["/v1/leads/{lead_id}/approve"]["post"]
              ["parameters"]}
    assert params["lead_id"]["schema"]["maximum"] == 2**63 - 1


def test_production_refuses_weak_or_default_secrets_and_forces_secure_cookies() -> None:
    for secret in (DEV_SECRET, "short-secret", "x" * 31):
        with pytest.raises(ValidationError):
            Settings(environment="production", secret_key=secret)
    s = Settings(environment="production", secret_key="k" * 32, cookie_secure=False)
    assert s.cookie_secure is True


def test_cli_says_why_settings_are_refused_in_one_line(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADGATE_ENVIRONMENT", "production")
    monkeypatch.setenv("LEADGATE_SECRET_KEY", "too-short")
    result = CliRunner().invoke(cli, ["db", "upgrade", "--db", str(tmp_path / "p.db")])
    assert result.exit_code == 2
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1 and "LEADGATE_SECRET_KEY" in lines[0]
    assert "Traceback" not in result.output


def test_cli_token_create_and_user_deactivate(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    app = make_app(f"sqlite:///{db}", FakeClock())
    from tests.conftest import apply_setup

    apply_setup(app, SETUP)
    create_users(app)
    app.close()
    runner = CliRunner()
    made = runner.invoke(cli, ["token", "create", "a1@example.com", "--name", "laptop",
                               "--expires-days", "7", "--db", db], catch_exceptions=False)
    assert made.exit_code == 0, made.output
    secret = made.output.strip().splitlines()[-1]
    assert secret.startswith("lg_usr_")
    check = make_app(f"sqlite:///{db}")
    try:
        with TestClient(create_app(app=check, worker=False)) as c:
            assert c.get("/v1/me", headers={"Authorization": f"Bearer {secret}"}
                         ).status_code == 200
            gone = runner.invoke(cli, ["user", "deactivate", "a1@example.com", "--db", db],
                                 catch_exceptions=False)
            assert gone.exit_code == 0 and "2 token(s) revoked" in gone.output
            assert c.get("/v1/me", headers={"Authorization": f"Bearer {secret}"}
                         ).status_code == 401
    finally:
        check.close()
    bad = runner.invoke(cli, ["token", "create", "nobody@example.com", "--db", db])
    assert bad.exit_code == 2 and "no user" in bad.output
    never = runner.invoke(cli, ["token", "create", "a1@example.com", "--db", db])
    assert never.exit_code == 2 and "deactivated" in never.output
