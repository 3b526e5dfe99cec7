"""Users, roles, API tokens and source keys: creating them and resolving a
caller's credentials into a :class:`Principal`."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from leadgate.domain.errors import AuthError, Conflict, Forbidden, InvalidInput, NotFound
from leadgate.services import security
from leadgate.services.login import LoginCandidate
from leadgate.services.principal import ROLES, Principal
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork


def create_user(uow: UnitOfWork, email: str, password: str, role: str, now: datetime, *,
                name: str | None = None, agent_key: str | None = None,
                buyer_key: str | None = None) -> m.User:
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
    if role == "buyer" and not buyer_key:
        raise InvalidInput("a user with the buyer role must be linked to a buyer",
                           code="buyer_required")
    user = m.User(email=email, name=name or email.split("@")[0], role=role,
                  password_hash=security.hash_password(password), agent_id=agent_id,
                  buyer_key=buyer_key if role == "buyer" else None,
                  active=True, created_at=now)
    uow.session.add(user)
    uow.session.flush()
    return user


def find_login(uow: UnitOfWork, email: str) -> LoginCandidate | None:
    """The user an email names, as the login guard needs it (no hashing here:
    :class:`leadgate.services.login.LoginGuard` checks the password)."""
    user = uow.session.scalar(select(m.User).where(m.User.email == email.strip().lower()))
    if user is None:
        return None
    return LoginCandidate(user_id=user.id, password_hash=user.password_hash,
                          active=user.active)


def user_by_email(uow: UnitOfWork, email: str) -> m.User:
    user = uow.session.scalar(select(m.User).where(m.User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user with email {email.strip().lower()!r}")
    return user


MAX_TOKEN_DAYS = 3660


def create_token(uow: UnitOfWork, user: m.User, name: str, now: datetime, *,
                 expires_days: int | None = None) -> str:
    """A personal API token for ``user``; the secret is returned once. With
    ``expires_days`` it stops working that many days from ``now``."""
    if not user.active:
        raise Forbidden(f"user {user.email} is deactivated")
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("give the token a name (1 to 200 characters)", code="invalid_token")
    if expires_days is not None and not 1 <= expires_days <= MAX_TOKEN_DAYS:
        raise InvalidInput(f"expiry must be between 1 and {MAX_TOKEN_DAYS} days",
                           code="invalid_token")
    secret = security.new_secret(security.USER_TOKEN_PREFIX)
    expires = now + timedelta(days=expires_days) if expires_days else None
    uow.session.add(m.ApiToken(user_id=user.id, name=name,
                               token_hash=security.hash_secret(secret),
                               prefix=security.display_prefix(secret), created_at=now,
                               expires_at=expires))
    uow.session.flush()
    return secret


def list_tokens(uow: UnitOfWork, user_id: int) -> list[dict[str, Any]]:
    """The user's tokens, newest first (never the secret: only its prefix)."""
    rows = uow.session.scalars(select(m.ApiToken).where(m.ApiToken.user_id == user_id)
                               .order_by(m.ApiToken.id.desc()))
    return [{"id": t.id, "name": t.name, "prefix": t.prefix, "created_at": t.created_at,
             "last_used_at": t.last_used_at, "expires_at": t.expires_at} for t in rows]


def revoke_token(uow: UnitOfWork, user_id: int, token_id: int) -> None:
    """Delete one of the user's tokens; it stops working at once."""
    token = uow.session.get(m.ApiToken, token_id)
    if token is None or token.user_id != user_id:
        raise NotFound(f"no token {token_id}")
    uow.session.delete(token)
    uow.commit()


def deactivate_user(uow: UnitOfWork, email: str) -> dict[str, int]:
    """Deactivate a user: their console sessions end and their API tokens are
    deleted, at once. Returns how many of each were removed."""
    user = user_by_email(uow, email)
    user.active = False
    sessions = uow.session.execute(
        delete(m.ConsoleSession).where(m.ConsoleSession.user_id == user.id))
    tokens = uow.session.execute(delete(m.ApiToken).where(m.ApiToken.user_id == user.id))
    uow.commit()
    return {"sessions": _rowcount(sessions), "tokens": _rowcount(tokens)}


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def start_session(uow: UnitOfWork, user_id: int, now: datetime, ttl: timedelta) -> str:
    """A new console session for ``user_id``: the random id for the cookie."""
    secret = secrets.token_urlsafe(32)
    uow.session.add(m.ConsoleSession(token_hash=security.hash_secret(secret), user_id=user_id,
                                     created_at=now, expires_at=now + ttl))
    uow.session.execute(delete(m.ConsoleSession).where(m.ConsoleSession.user_id == user_id,
                                                       m.ConsoleSession.expires_at <= now))
    uow.commit()
    return secret


def session_user(uow: UnitOfWork, secret: str, now: datetime) -> m.User | None:
    """The active user whose unexpired session ``secret`` is, else None."""
    row = uow.session.scalar(select(m.ConsoleSession).where(
        m.ConsoleSession.token_hash == security.hash_secret(secret)))
    if row is None or row.expires_at <= now or not row.user.active:
        return None
    return row.user


def end_session(uow: UnitOfWork, secret: str) -> None:
    """Log out: the session's row goes, so a copy of the cookie stops working."""
    uow.session.execute(delete(m.ConsoleSession).where(
        m.ConsoleSession.token_hash == security.hash_secret(secret)))
    uow.commit()


def principal_for_user(user: m.User) -> Principal:
    return Principal(kind="user", name=user.email, role=user.role, user_id=user.id,
                     agent_id=user.agent_id, buyer_key=user.buyer_key)


#: ``last_used_at`` is written at most this often per token (not on every request).
LAST_USED_EVERY = timedelta(minutes=1)


def resolve_secret(uow: UnitOfWork, secret: str, now: datetime | None = None
                   ) -> tuple[Principal, m.Source | None]:
    """Map a bearer secret (source key or user token) to its principal. A user
    token past its ``expires_at`` (compared with ``now``) is refused."""
    digest = security.hash_secret(secret)
    if secret.startswith(security.USER_TOKEN_PREFIX):
        token = uow.session.scalar(select(m.ApiToken).where(m.ApiToken.token_hash == digest))
        if token is None or not token.user.active:
            raise AuthError("unknown or revoked API token")
        if now is not None and token.expires_at is not None and token.expires_at <= now:
            raise AuthError("this API token has expired; create a new one")
        principal = principal_for_user(token.user)
        if now is not None and (token.last_used_at is None
                                or token.last_used_at < now - LAST_USED_EVERY):
            principal = replace(principal, touch_token_id=token.id)
        return principal, None
    source = uow.session.scalar(select(m.Source).where(m.Source.api_key_hash == digest))
    if source is None or not source.active:
        raise AuthError("unknown or revoked API key")
    return Principal(kind="source", name=source.key, source_id=source.id), source


def token_used(uow: UnitOfWork, token_id: int, now: datetime) -> None:
    """Record that a user token was used (``last_used_at``); :func:`resolve_secret`
    asks for it at most once a minute per token, so reads stay reads."""
    uow.session.execute(update(m.ApiToken).where(m.ApiToken.id == token_id)
                        .values(last_used_at=now))
    uow.commit()


def rotate_source_key(uow: UnitOfWork, source_key: str) -> str:
    source = uow.session.scalar(select(m.Source).where(m.Source.key == source_key))
    if source is None:
        raise NotFound(f"no source with key {source_key!r}")
    secret = security.new_secret(security.SOURCE_KEY_PREFIX)
    source.api_key_hash = security.hash_secret(secret)
    source.api_key_prefix = security.display_prefix(secret)
    return secret
