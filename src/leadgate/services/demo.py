"""Seed the demo workspace: the packaged demo.yaml plus demo users."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

from sqlalchemy import select

from leadgate.bootstrap import App
from leadgate.services import accounts, configure
from leadgate.store import models as m

DEMO_PASSWORD = "leadgate-demo"
DEMO_SOURCE = "website"
DEMO_USERS = (
    ("admin@example.com", "admin", None),
    ("manager@example.com", "manager", None),
    ("priya@example.com", "agent", "priya"),
)


@dataclass
class DemoInfo:
    source: str
    source_key: str
    users: list[tuple[str, str, str]] = field(default_factory=list)


def demo_config() -> str:
    return resources.files("leadgate.data").joinpath("demo.yaml").read_text(encoding="utf-8")


def seed(app: App) -> DemoInfo:
    """Apply the demo setup (idempotent) and make sure the demo users exist."""
    data, lines = configure.load_yaml(demo_config(), "demo.yaml")
    now = app.clock()
    with app.uow() as uow:
        configure.apply(uow, data, now, lines=lines, actor="demo")
    info = DemoInfo(source=DEMO_SOURCE, source_key=str(data["sources"][0]["api_key"]))
    with app.uow() as uow:
        for email, role, agent in DEMO_USERS:
            if uow.session.scalar(select(m.User).where(m.User.email == email)) is None:
                accounts.create_user(uow, email, DEMO_PASSWORD, role, now, agent_key=agent)
            info.users.append((email, DEMO_PASSWORD, role))
        uow.commit()
    return info
