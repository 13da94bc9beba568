"""D3: PostgreSQL (the app tables) goes away for a few seconds in the middle of a run and comes
back. The API says 503 meanwhile, never 500; nothing accepted is lost; every job completes."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.reliability.postgres_server import PostgresServer, available
from tests.reliability.process import Api, app_process
from tests.reliability.redis_server import RedisServer

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

JOBS = 12
DOWN_S = 4.0
TERMINAL = {"completed", "failed", "cancelled"}


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
        server.create_database("atspro")
        yield server
    finally:
        server.close()


def test_postgres_restart_mid_run_loses_nothing(
    tmp_path: Path, postgres: PostgresServer, redis_server: RedisServer
) -> None:
    """D3: with jobs running and queued, the app's PostgreSQL stops (``pg_ctl stop -m fast``,
    every session ended) for a few seconds. Requests meanwhile get 503 with Retry-After (never a
    500), and are refused rather than half-accepted; once it is back the pool reconnects by
    itself, and every accepted job completes exactly once, none left running."""
    env = {
        "DATABASE_URL": postgres.url("atspro"),
        "ATSPRO_QUEUE_URL": redis_server.url,
        "REDIS_URL": redis_server.url,
        "ATSPRO_SECRET_KEY": secrets.token_urlsafe(48),
        "ATSPRO_RATE_LIMIT_SUBMIT": "off",
        "ATSPRO_CONCURRENCY_DEFAULT": "4",
        "ATSPRO_CONCURRENCY_HIGH": "4",
    }
    with app_process(tmp_path / "data", **env) as app:
        app.cli("migrate")
        app.start()
        api = Api(app, app.create_user("pg@example.com"))
        accepted = [api.submit(seconds=1 + (n % 3), steps=4, echo=n)["id"] for n in range(JOBS)]
        api.wait_for(accepted[0], {"running"})

        postgres.stop("fast")
        answers: list[int] = []
        down_until = time.monotonic() + DOWN_S
        while time.monotonic() < down_until:
            listed = httpx.get(f"{app.base_url}/api/jobs", headers=api.headers, timeout=10)
            answers.append(listed.status_code)
            if listed.status_code == 503:
                assert listed.headers["retry-after"]
            submitted = httpx.post(
                f"{app.base_url}/api/jobs",
                json={"jobType": "diagnostic.echo", "inputData": {"echo": "during"}},
                headers=api.headers,
                timeout=10,
            )
            answers.append(submitted.status_code)
            if submitted.status_code == 202:  # only possible if it reached the database
                accepted.append(submitted.json()["id"])
            time.sleep(0.2)
        assert 503 in answers
        assert set(answers) <= {503, 200, 202}, answers
        assert app.process is not None
        assert app.process.poll() is None  # still serving
        postgres.start()

        finished = [api.wait_for(job_id, TERMINAL, timeout=90) for job_id in accepted]
        assert [job["status"] for job in finished] == ["completed"] * len(accepted)
        assert all(job["retryCount"] == 0 for job in finished)
        page = httpx.get(
            f"{app.base_url}/api/jobs", params={"limit": 100}, headers=api.headers, timeout=10
        ).json()
        assert sorted(job["id"] for job in page["items"]) == sorted(accepted)
        ready = httpx.get(f"{app.base_url}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
