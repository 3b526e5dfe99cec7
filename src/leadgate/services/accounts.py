"""Users, roles, API tokens and source keys: creating them and resolving a
caller's credentials into a :class:`Principal`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from leadgate.domain.errors import AuthError, Conflict, InvalidInput, NotFound
from leadgate.services import security
from leadgate.services.principal import ROLES, Principal
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork


def create_user(uow: UnitOfWork, email: str, password: str, role: str, now: datetime, *,
                name: str | None = None, agent_key: str | None = None) -> m.User:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", code="invalid_role")
    if len(password) < 8:
        raise InvalidInput("the password must have at least 8 characters", code="weak_password")
    email = email.strip().lower()
    if uow.session.scalar(select(m.User).where(m.User.email == email)):
        raise Conflict(f"a user with email {email} already exists")
    agent_id = None
    if agent_key:
        agent = uow.session.scalar(select(m.Agent).where(m.Agent.key == agent_key))
        if agent is None:
            raise NotFound(f"no agent with key {agent_key!r}")
        agent_id = agent.id
    elif role == "agent":
        raise InvalidInput("a user with the agent role must be linked to an agent",
                           code="agent_required")
    user = m.User(email=email, name=name or email.split("@")[0], role=role,
                  password_hash=security.hash_password(password), agent_id=agent_id,
                  active=True, created_at=now)
    uow.session.add(user)
    uow.session.flush()
    return user


def authenticate_password(uow: UnitOfWork, email: str, password: str) -> m.User:
    user = uow.session.scalar(select(m.User).where(m.User.email == email.strip().lower()))
    if user is None or not user.active or not security.verify_password(user.password_hash,
                                                                        password):
        raise AuthError("wrong email or password")
    return user


def create_token(uow: UnitOfWork, user: m.User, name: str, now: datetime) -> str:
    """A personal API token for ``user``; the secret is returned once."""
    secret = security.new_secret(security.USER_TOKEN_PREFIX)
    uow.session.add(m.ApiToken(user_id=user.id, name=name,
                               token_hash=security.hash_secret(secret),
                               prefix=security.display_prefix(secret), created_at=now))
    return secret


def principal_for_user(user: m.User) -> Principal:
    return Principal(kind="user", name=user.email, role=user.role, user_id=user.id,
                     agent_id=user.agent_id)


def resolve_secret(uow: UnitOfWork, secret: str) -> tuple[Principal, m.Source | None]:
    """Map a bearer secret (source key or user token) to its principal."""
    digest = security.hash_secret(secret)
    if secret.startswith(security.USER_TOKEN_PREFIX):
        token = uow.session.scalar(select(m.ApiToken).where(m.ApiToken.token_hash == digest))
        if token is None or not token.user.active:
            raise AuthError("unknown or revoked API token")
        return principal_for_user(token.user), None
    source = uow.session.scalar(select(m.Source).where(m.Source.api_key_hash == digest))
    if source is None or not source.active:
        raise AuthError("unknown or revoked API key")
    return Principal(kind="source", name=source.key, source_id=source.id), source


def rotate_source_key(uow: UnitOfWork, source_key: str) -> str:
    source = uow.session.scalar(select(m.Source).where(m.Source.key == source_key))
    if source is None:
        raise NotFound(f"no source with key {source_key!r}")
    secret = security.new_secret(security.SOURCE_KEY_PREFIX)
    source.api_key_hash = security.hash_secret(secret)
    source.api_key_prefix = security.display_prefix(secret)
    return secret
