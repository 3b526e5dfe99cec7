"""Shared fixtures: real databases built by the migrations, a configured
workspace, and a clock that tests control.

PostgreSQL tests use the local server (LEADGATE_TEST_PG, default
postgresql://postgres@127.0.0.1:5432/postgres) and create their own database.
Where no server is reachable they are skipped with a message — except under
CI=true, where a missing PostgreSQL is a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from leadgate.bootstrap import App, bootstrap
from leadgate.config import Settings
from leadgate.services import configure

PG_ADMIN_URL = os.environ.get("LEADGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ROOT = Path(__file__).resolve().parent.parent


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


def _pg_url(dbname: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + dbname


def pg_available() -> str | None:
    """None if PostgreSQL answers, else why not."""
    try:
        eng = create_engine(PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"),
                            connect_args={"connect_timeout": 3})
        with eng.connect() as c:
            c.execute(text("SELECT 1"))
        eng.dispose()
        return None
    except Exception as exc:  # any failure to connect means "not here"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


def require_pg() -> None:
    why = pg_available()
    if why is None:
        return
    if ON_CI:
        pytest.fail(f"PostgreSQL is required on CI but not reachable at {PG_ADMIN_URL}: {why}")
    pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {why}")


def create_pg_database() -> str:
    require_pg()
    name = f"leadgate_test_{uuid.uuid4().hex[:10]}"
    eng = create_engine(PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"),
                        isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    return _pg_url(name)


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    eng = create_engine(PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"),
                        isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrations run once)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    app = bootstrap(Settings(database_url=f"sqlite:///{path}", environment="test"),
                    migrate=True)
    app.close()
    return path


def make_db_url(kind: str, tmp_path: Path, template: Path) -> str:
    if kind == "sqlite":
        db = tmp_path / "leadgate.db"
        shutil.copy(template, db)
        return f"sqlite:///{db}"
    return create_pg_database()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    url = make_db_url(request.param, tmp_path, sqlite_template)
    yield url
    if request.param == "postgresql":
        drop_pg_database(url)


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    return make_db_url("sqlite", tmp_path, sqlite_template)


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_app(url: str, clock: Any = None) -> App:
    settings = Settings(database_url=url, environment="test", embedded_worker=False,
                        pool_size=5)
    return bootstrap(settings, clock=clock or FakeClock(), migrate=True)


@pytest.fixture
def app(db_url: str, clock: FakeClock) -> Iterator[App]:
    a = make_app(db_url, clock)
    yield a
    a.close()


SETUP = """
campaigns:
  - key: insurance
    name: Insurance
    fields:
      first_name: {type: string, required: true}
      last_name: {type: string}
      phone: {type: phone, required: true}
      email: {type: email}
      city: {type: string}
      country: {type: country}
      product: {type: enum, values: [health, life]}
      company_size: {type: integer, min: 0}
    default_region: IN
    dedupe: {keys: [[phone], [email]], window: 30d}
    flow: insurance
sources:
  - {key: website, name: Website, campaign: insurance, api_key: lg_src_test_website_key_0000,
     form: {key: web-form, redirect: "https://example.com/thanks"}}
  - {key: partner, name: Partner, campaign: insurance, api_key: lg_src_test_partner_key_0000}
teams:
  - {key: mumbai, name: Mumbai desk}
agents:
  - {key: a1, name: Agent One, teams: [mumbai]}
  - {key: a2, name: Agent Two, teams: [mumbai]}
  - {key: a3, name: Agent Three, teams: [mumbai]}
  - {key: a4, name: Agent Four, teams: [mumbai]}
flows:
  - key: insurance
    rules:
      - name: Mumbai
        when: {field: city, eq: Mumbai}
        to: {team: mumbai, method: round_robin}
    fallback: {queue: unassigned}
"""
WEBSITE_KEY = "lg_src_test_website_key_0000"
PARTNER_KEY = "lg_src_test_partner_key_0000"
PASSWORD = "correct-horse-battery"


def apply_setup(app: App, text_: str = SETUP) -> configure.ApplyReport:
    data, lines = configure.load_yaml(text_)
    with app.uow() as uow:
        return configure.apply(uow, data, app.clock(), lines=lines, actor="test")


def create_users(app: App) -> dict[str, str]:
    """A manager and two agent users; returns API tokens by name."""
    from leadgate.services import accounts

    tokens = {}
    with app.uow() as uow:
        for email, role, agent in (("boss@example.com", "manager", None),
                                   ("a1@example.com", "agent", "a1"),
                                   ("a2@example.com", "agent", "a2")):
            user = accounts.create_user(uow, email, PASSWORD, role, app.clock(),
                                        agent_key=agent)
            tokens[agent or "manager"] = accounts.create_token(uow, user, "test", app.clock())
        uow.commit()
    return tokens


@pytest.fixture
def workspace(app: App) -> App:
    apply_setup(app)
    return app
