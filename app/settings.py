"""Configuration, read once from the environment (pydantic-settings).

PaaS conventions: ``PORT``, ``DATABASE_URL`` and ``REDIS_URL`` are unprefixed; everything else is
``ATSPRO_*``. Every default is safe and needs no other server: SQLite app tables and the SQLite
queue under ``ATSPRO_DATA_DIR``. Fields are grouped by area; the README's table lists them all.
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

if TYPE_CHECKING:
    from app.ai.engine import AIConfig

MIN_SECRET_LENGTH = 32
WEAK_SECRETS = frozenset({"secret", "changeme", "change-me", "password", "development", "dev"})


class Mode(StrEnum):
    """What one process runs: HTTP and workers, HTTP only, or workers only."""

    ALL = "all"
    WEB = "web"
    WORKER = "worker"


class ConfigError(ValueError):
    """The configuration cannot work; the message says what to change."""


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    """All settings of one process. Construct with keyword arguments in tests."""

    model_config = SettingsConfigDict(env_prefix="ATSPRO_", extra="ignore", populate_by_name=True)

    # --- process -------------------------------------------------------------------------------
    env: Literal["production", "development"] = "production"
    mode: Mode = Mode.ALL
    host: str = "127.0.0.1"
    port: int = Field(default=8000, validation_alias=_env("PORT"))
    worker_port: int = 8001
    data_dir: Path = Path("data")
    log_level: str = "info"

    # --- storage ---------------------------------------------------------------------------------
    database_url: str | None = Field(default=None, validation_alias=_env("DATABASE_URL"))
    queue_url: str | None = None
    redis_url: str | None = Field(default=None, validation_alias=_env("REDIS_URL"))
    auto_migrate: bool | None = None  # None: migrate SQLite on start, never Postgres

    # --- workers ---------------------------------------------------------------------------------
    concurrency_high: int = Field(default=8, ge=1, le=1000)
    concurrency_default: int = Field(default=8, ge=1, le=1000)
    concurrency_low: int = Field(default=4, ge=1, le=1000)
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    extra_tasks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    worker_queues: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["high", "default", "low"]
    )

    # --- jobs ----------------------------------------------------------------------------------
    max_retries: int = Field(default=3, ge=0, le=25)
    retry_base_delay_s: float = Field(default=2.0, ge=0)
    retry_max_delay_s: float = Field(default=300.0, ge=0)
    lease_s: float = Field(default=30.0, gt=0)
    reaper_interval_s: float = Field(default=5.0, gt=0)
    reconcile_interval_s: float = Field(default=30.0, gt=0)
    max_stalls: int = Field(default=3, ge=1)
    progress_event_interval_s: float = Field(default=0.2, ge=0)

    # --- live events ---------------------------------------------------------------------------
    sse_ping_s: float = Field(default=15.0, gt=0)
    sse_poll_s: float = Field(default=2.0, gt=0)

    # --- operations (parse, extract, optimize) ----------------------------------------------------
    openai_api_key: SecretStr | None = Field(default=None, validation_alias=_env("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(default=None, validation_alias=_env("OPENAI_BASE_URL"))
    ai_model: str | None = None
    ai_timeout_s: float = Field(default=60.0, gt=0)
    # A model that keeps failing gives the offline engine's result (marked ``fallbackReason``);
    # off: the job is retried and fails ``llm_unavailable`` once its retries are spent.
    ai_fallback_to_offline: bool = True
    # Circuit breaker for the model provider, per process: open after this many failed calls in
    # a row (0 = off), refusing calls for this long before one trial call goes through.
    llm_breaker_failures: int = Field(default=5, ge=0)
    llm_breaker_open_s: float = Field(default=30.0, gt=0)
    # Model tokens (input + output) one user may spend per UTC day; 0 = unlimited.
    user_daily_tokens: int = Field(default=0, ge=0)
    fetch_allow_hosts: str = ""  # host:port entries that may be fetched though not public
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    sync_timeout_s: float = Field(default=120.0, gt=0)  # ?async=false waits this long at most

    # --- security --------------------------------------------------------------------------------
    secret_key: str | None = None

    # --- accounts --------------------------------------------------------------------------------
    allow_signup: bool = True
    session_idle_s: float = Field(default=24 * 3600.0, gt=0)  # unused this long: signed out
    session_max_age_s: float = Field(default=7 * 24 * 3600.0, gt=0)  # from sign-in, however used
    session_recheck_s: float = Field(default=5.0, gt=0)  # an open SSE stream re-checks its sign-in
    # Origins besides the app's own that may send cookie-authenticated writes (a dev server).
    trusted_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    rate_limit_login: str = "10/minute;100/day"  # per account (`limits` notation; `off`)
    rate_limit_login_ip: str = "30/minute;1000/day"  # per client address, sign-ups included
    rate_limit_submit: str = "60/minute"  # job submissions per user
    # Fair share: at most this many of one user's jobs run at once (0 = no cap); the rest wait
    # without holding a worker slot, so one user's flood cannot hold every worker.
    max_running_per_user: int = Field(default=0, ge=0)

    # --- telemetry and cleanup (ops-telemetry) ---------------------------------------------------
    # /readyz answers 503 while the event loop lagged more than this recently (workers share it).
    ready_max_loop_lag_ms: float = Field(default=500.0, gt=0)
    metrics_token: SecretStr | None = None  # when set, /metrics needs `Authorization: Bearer …`
    # Finished jobs older than this (days since they finished) are deleted; 0 keeps them forever.
    retain_completed_days: float = Field(default=30.0, ge=0)
    retain_failed_days: float = Field(default=90.0, ge=0)
    retain_cancelled_days: float = Field(default=30.0, ge=0)
    # Token usage rows (app/budget.py) of UTC days more than this many days before today are
    # deleted; 0 keeps them forever. The budget itself reads only today's row.
    retain_token_usage_days: int = Field(default=31, ge=0)
    cleanup_interval_s: float = Field(default=3600.0, gt=0)
    cleanup_batch_size: int = Field(default=500, ge=1, le=10_000)

    # --- web app (web/) ------------------------------------------------------------------------
    web_dir: Path | None = None  # the built pages; None: web/out beside the package

    @field_validator("extra_tasks", "worker_queues", mode="before")
    @classmethod
    def _split_tasks(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    @field_validator("rate_limit_login", "rate_limit_login_ip", "rate_limit_submit")
    @classmethod
    def _parse_rate_limit(cls, value: str) -> str:
        from app.ratelimit import parse_limits

        parse_limits(value)  # raises ValueError naming the problem
        return value

    @field_validator("secret_key")
    @classmethod
    def _refuse_weak_secret(cls, value: str | None) -> str | None:
        if value is None:
            return None
        guessable = value.lower() in WEAK_SECRETS or len(set(value)) < 8
        if len(value) < MIN_SECRET_LENGTH or guessable:
            msg = (
                f"ATSPRO_SECRET_KEY is too weak: use at least {MIN_SECRET_LENGTH} random "
                "characters "
                "(for example `python -c 'import secrets; print(secrets.token_urlsafe(48))'`), "
                "or unset it to have one generated in the data directory"
            )
            raise ValueError(msg)
        return value

    # --- derived values --------------------------------------------------------------------------

    @property
    def resolved_database_url(self) -> str:
        """The app database: ``DATABASE_URL`` or SQLite in the data directory."""
        if self.database_url:
            url = self.database_url
            # Heroku-style URLs name the scheme without the async driver.
            for plain in ("postgres://", "postgresql://"):
                if url.startswith(plain):
                    return "postgresql+asyncpg://" + url.removeprefix(plain)
            return url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'atspro.db').resolve()}"

    @property
    def resolved_queue_url(self) -> str:
        """The queue backend: ``ATSPRO_QUEUE_URL`` or the SQLite queue in the data directory."""
        return self.queue_url or f"sqlite:///{(self.data_dir / 'queue.db').resolve()}"

    @property
    def uses_sqlite_database(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def should_migrate_on_start(self) -> bool:
        return self.uses_sqlite_database if self.auto_migrate is None else self.auto_migrate

    def ai_config(self) -> AIConfig:
        from app.ai.engine import AIConfig

        return AIConfig(
            api_key=self.openai_api_key,
            base_url=self.openai_base_url,
            model=self.ai_model,
            timeout_s=self.ai_timeout_s,
            fallback_to_offline=self.ai_fallback_to_offline,
            breaker_failures=self.llm_breaker_failures,
            breaker_open_s=self.llm_breaker_open_s,
        )

    @property
    def session_cookie_name(self) -> str:
        """``__Host-`` pins the cookie to this host over HTTPS; development runs on plain http."""
        return "atspro_session" if self.env == "development" else "__Host-atspro_session"

    @property
    def session_cookie_secure(self) -> bool:
        return self.env != "development"

    def concurrency(self, queue: str) -> int:
        return int(getattr(self, f"concurrency_{queue}"))

    def resolved_secret_key(self) -> str:
        """The configured secret, or one generated on first start and kept in the data dir."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.touch(mode=0o600)
        path.write_text(key)
        return key

    def check_topology(self) -> None:
        """Refuse a setup that cannot work, saying what is missing."""
        queue_is_sqlite = self.resolved_queue_url.startswith("sqlite")
        if self.mode is Mode.WEB and queue_is_sqlite and self.queue_url is None:
            raise ConfigError(
                "`--mode web` runs no workers, so jobs need a queue that worker processes share: "
                "set ATSPRO_QUEUE_URL (redis://… or postgres://…), or run `atspro serve` (mode all)"
            )
