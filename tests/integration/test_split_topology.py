"""Split setups that cannot work are refused at start, naming what is missing; setups that work
only on one host start with a warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import ConfigError, Mode, Settings
from app.topology import check_topology
from tests.reliability.process import app_process

REDIS = "redis://127.0.0.1:6379/0"
POSTGRES = "postgresql://postgres@127.0.0.1:5432/atspro"


@pytest.mark.parametrize("mode", [Mode.WEB, Mode.WORKER])
@pytest.mark.parametrize("queue_url", [REDIS, "postgres://postgres@127.0.0.1:5432/queue"])
def test_split_mode_on_a_server_queue_without_redis_url_is_refused(
    tmp_path: Path, mode: Mode, queue_url: str
) -> None:
    """A web or worker process on a Redis or Postgres queue needs REDIS_URL for events and locks."""
    settings = Settings(
        data_dir=tmp_path, mode=mode, queue_url=queue_url, database_url=POSTGRES, redis_url=None
    )
    with pytest.raises(ConfigError, match="set REDIS_URL"):
        check_topology(settings)
    assert check_topology(settings.model_copy(update={"redis_url": REDIS})) == []


def test_one_process_needs_nothing_more(tmp_path: Path) -> None:
    """`atspro serve` (mode all) works on any backends, Redis or not."""
    assert check_topology(Settings(data_dir=tmp_path)) == []
    assert check_topology(Settings(data_dir=tmp_path, queue_url=REDIS)) == []


def test_sqlite_in_split_mode_warns_that_every_process_must_share_the_host(
    tmp_path: Path,
) -> None:
    """SQLite app tables or queue with split processes start, with one warning per SQLite store
    (and one about polling without REDIS_URL)."""
    queue = f"sqlite:///{tmp_path}/queue.db"
    web = check_topology(
        Settings(data_dir=tmp_path, mode=Mode.WEB, queue_url=queue, redis_url=None)
    )
    assert len(web) == 3
    assert any("the queue is SQLite" in warning for warning in web)
    assert any("the app tables are SQLite" in warning for warning in web)
    assert any("by polling" in warning for warning in web)
    worker = check_topology(
        Settings(data_dir=tmp_path, mode=Mode.WORKER, queue_url=REDIS, redis_url=REDIS)
    )
    assert worker == [
        "the app tables are SQLite: every web and worker process must run on this host and share "
        "ATSPRO_DATA_DIR; set DATABASE_URL (postgresql://…) to use several hosts"
    ]


@pytest.mark.parametrize("command", [["worker"], ["serve", "--mode", "web"]])
def test_the_cli_refuses_a_split_process_without_redis_url(
    tmp_path: Path, command: list[str]
) -> None:
    """`atspro worker` or `serve --mode web` on a Redis queue without REDIS_URL exits 2 and says
    which variable to set."""
    with app_process(tmp_path / "data", ATSPRO_QUEUE_URL=REDIS) as app:
        app.env.pop("REDIS_URL", None)
        result = app.run(*command)
    assert result.returncode == 2
    assert "configuration error" in result.stderr
    assert "set REDIS_URL" in result.stderr
