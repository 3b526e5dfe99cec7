"""Who is calling: a source (may only submit leads) or a user with a role."""

from __future__ import annotations

from dataclasses import dataclass

from leadgate.domain.errors import Forbidden

ROLES = ("admin", "manager", "agent", "buyer")


@dataclass(frozen=True)
class Principal:
    kind: str  # "source" | "user"
    name: str
    role: str | None = None  # admin | manager | agent | buyer (users only)
    user_id: int | None = None
    agent_id: int | None = None
    source_id: int | None = None
    #: a buyer user's buyer (it sees and returns only its own purchases)
    buyer_key: str | None = None
    #: The personal API token used, when it is due a ``last_used_at`` update.
    touch_token_id: int | None = None

    @property
    def is_manager(self) -> bool:
        return self.kind == "user" and self.role in ("admin", "manager")

    def require_user(self) -> None:
        if self.kind != "user":
            raise Forbidden("a source key can only submit leads")

    def require_staff(self) -> None:
        """A user on the team: not a source, not a buyer's user (an outside company)."""
        self.require_user()
        if self.role == "buyer":
            raise Forbidden("a buyer's user sees only its purchases and returns")

    def require_manager(self) -> None:
        self.require_user()
        if not self.is_manager:
            raise Forbidden("this needs the manager or admin role")

    def require_admin(self) -> None:
        self.require_user()
        if self.role != "admin":
            raise Forbidden("this needs the admin role")

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"
