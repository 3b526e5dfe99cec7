"""Settings: the only place leadgate reads the environment.

Every value can be set with a ``LEADGATE_`` environment variable (for example
``LEADGATE_DATABASE_URL``) or passed explicitly by tests and the CLI.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "leadgate-development-secret-change-me"


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
    #: Most leads the capture path stores in one transaction (group commit).
    capture_batch_max: int = Field(default=64, ge=1, le=1000)
    #: How long a worker owns a claimed job; a job whose worker died is run again after it.
    job_lease_seconds: float = Field(default=300, gt=0)
    #: Database connection pool size per process (PostgreSQL).
    pool_size: int = 20
    log_level: str = "INFO"
    log_json: bool = False
    #: Secure cookies need HTTPS; keep off for the local console.
    cookie_secure: bool = False

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEV_SECRET:
            raise ValueError(
                "LEADGATE_SECRET_KEY must be set to a private random value in production"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
