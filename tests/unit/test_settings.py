"""Settings: safe defaults, secrets, and setups that cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.jobs.service import backoff_delay, queue_for
from app.settings import ConfigError, Mode, Settings


def test_defaults_need_no_server(tmp_path: Path) -> None:
    """With nothing configured, app tables and queue are SQLite files in the data dir."""
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/atspro.db"
    assert settings.resolved_queue_url == f"sqlite:///{tmp_path.resolve()}/queue.db"
    assert settings.should_migrate_on_start


def test_paas_variables_are_unprefixed(monkeypatch: pytest.MonkeyPatch) -> None:
    """PORT, DATABASE_URL and REDIS_URL are read without the ATSPRO_ prefix."""
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db/app")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379")
    monkeypatch.setenv("ATSPRO_CONCURRENCY_LOW", "2")
    monkeypatch.setenv("ATSPRO_EXTRA_TASKS", "a.b:c, d.e:f")
    settings = Settings()
    assert settings.port == 9123
    assert settings.resolved_database_url == "postgresql+asyncpg://u@db/app"
    assert settings.redis_url == "redis://cache:6379"
    assert settings.concurrency("low") == 2
    assert settings.extra_tasks == ["a.b:c", "d.e:f"]
    assert not settings.should_migrate_on_start


def test_missing_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    """An unset secret is generated on first start, stored privately, and reused."""
    first = Settings(data_dir=tmp_path).resolved_secret_key()
    second = Settings(data_dir=tmp_path).resolved_secret_key()
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("weak", ["secret", "short-but-random-9x", "a" * 40, "changeme"])
def test_weak_configured_secret_refuses_to_start(weak: str) -> None:
    """A configured secret that is short or guessable is refused with advice."""
    with pytest.raises(ValidationError, match="too weak"):
        Settings(secret_key=weak)


def test_web_mode_without_a_shared_queue_is_refused(tmp_path: Path) -> None:
    """A web-only process with the default SQLite queue would have no workers: refused."""
    with pytest.raises(ConfigError, match="ATSPRO_QUEUE_URL"):
        Settings(data_dir=tmp_path, mode=Mode.WEB).check_topology()
    Settings(data_dir=tmp_path, mode=Mode.WEB, queue_url="redis://x").check_topology()


@pytest.mark.parametrize(
    ("priority", "queue"), [(1, "high"), (3, "high"), (4, "default"), (7, "default"), (8, "low")]
)
def test_priority_picks_the_queue(priority: int, queue: str) -> None:
    """Priorities 1-3 run on high, 4-7 on default, 8-10 on low."""
    assert queue_for(priority) == queue


def test_backoff_grows_and_is_capped() -> None:
    """Backoff doubles per retry within jitter bounds and never passes the cap."""
    for retry in range(8):
        delay = backoff_delay(retry, 1.0, 30.0)
        ceiling = min(30.0, 2**retry)
        assert ceiling / 2 <= delay <= ceiling
    assert backoff_delay(0, 1.0, 30.0, minimum_s=5.0) == 5.0
