"""Secrets: API keys and tokens (stored hashed, shown once) and passwords."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

SOURCE_KEY_PREFIX = "lg_src_"
USER_TOKEN_PREFIX = "lg_usr_"


def new_secret(prefix: str) -> str:
    """A high-entropy secret such as ``lg_src_3Fq...`` (32 random bytes)."""
    return prefix + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """SHA-256 of a random secret. Secrets carry 256 bits of entropy, so a fast
    hash is safe here and keeps per-request authentication cheap."""
    return hashlib.sha256(secret.encode()).hexdigest()


def display_prefix(secret: str) -> str:
    """The part of a secret safe to show again later (``lg_src_3Fq4``)."""
    return secret[: len(secret.split("_")[0]) + 9] if "_" in secret else secret[:8]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def constant_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
