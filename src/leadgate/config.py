"""Settings: the only place leadgate reads the environment.

Every value can be set with a ``LEADGATE_`` environment variable (for example
``LEADGATE_DATABASE_URL``) or passed explicitly by tests and the CLI.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "leadgate-development-secret-change-me"
MIN_SECRET_LENGTH = 32


def settings_problem(exc: Exception) -> str:
    """One line saying why the settings were refused (for the CLI, not a traceback)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        parts = []
        for e in errors():
            where = ".".join(str(p) for p in e.get("loc", ()))
            msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
            parts.append(f"LEADGATE_{where.upper()}: {msg}" if where else msg)
        return "; ".join(parts)
    return str(exc).splitlines()[0]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADGATE_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./leadgate.db"
    secret_key: str = DEV_SECRET
    host: str = "127.0.0.1"
    port: int = 8000
    #: Largest request body accepted anywhere, in bytes.
    max_body_bytes: int = 1024 * 1024
    #: Idempotency keys are kept (and replayed) at least this long.
    idempotency_ttl_hours: int = 24
    #: Run the background job worker inside ``serve``.
    embedded_worker: bool = True
    worker_poll_seconds: float = Field(default=0.5, gt=0)
    #: Jobs a worker runs at once (threads); 0 = 4 on PostgreSQL, 1 on SQLite (one writer).
    worker_threads: int = Field(default=0, ge=0, le=64)
    #: Most leads the capture path stores in one transaction (group commit).
    capture_batch_max: int = Field(default=64, ge=1, le=1000)
    #: How long a worker owns a claimed job; a job whose worker died is run again after it.
    job_lease_seconds: float = Field(default=300, gt=0)
    #: Database connection pool size per process (PostgreSQL).
    pool_size: int = 20
    log_level: str = "INFO"
    log_json: bool = False
    #: Secure cookies need HTTPS; keep off for the local console (always on in production).
    cookie_secure: bool = False
    #: Console sessions last this long (then log in again); logout ends them at once.
    session_hours: float = Field(default=12, gt=0, le=24 * 30)
    #: Console logins: attempts per account and per client address within the window;
    #: past either, answers are 429 with Retry-After and no password is checked.
    login_attempts_per_account: int = Field(default=10, ge=1)
    login_attempts_per_address: int = Field(default=100, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)
    #: Argon2 password checks running at once (each uses ~64 MiB), on their own threads.
    password_hash_concurrency: int = Field(default=2, ge=1, le=16)
    #: The address people reach this server at, for links in notifications (accept
    #: links); default ``http://{host}:{port}``.
    public_url: str = ""
    #: SMTP server for notification emails to reps (none: email notifications are
    #: skipped, and say why in the deliveries list).
    notify_smtp_host: str | None = None
    notify_smtp_port: int = 25
    notify_smtp_starttls: bool = False
    notify_smtp_ssl: bool = False
    notify_smtp_username: str | None = None
    notify_smtp_password: str | None = None
    notify_email_from: str = "leadgate@localhost"

    @model_validator(mode="after")
    def _production_rules(self) -> Settings:
        if self.environment == "production":
            if self.secret_key == DEV_SECRET or len(self.secret_key) < MIN_SECRET_LENGTH:
                raise ValueError(
                    "LEADGATE_SECRET_KEY must be a private random value of at least "
                    f"{MIN_SECRET_LENGTH} characters in production (for example the output "
                    "of: python3 -c 'import secrets; print(secrets.token_urlsafe(48))')")
            self.cookie_secure = True
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
