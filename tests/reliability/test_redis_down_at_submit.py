"""R8: Redis (queue, events, rate limits) is down when users submit. Each submit is either
refused with a 503 and leaves no row, or accepted with a pending row that the reconciler puts on
the queue once Redis is back; no accepted job is orphaned."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import httpx
import pytest

from tests.reliability.process import Api, app_process
from tests.reliability.redis_server import RedisServer

TERMINAL = {"completed", "failed", "cancelled"}


@pytest.mark.parametrize("rate_limit", ["60/minute", "off"])
def test_submits_while_redis_is_down_are_refused_or_run_later(
    tmp_path: Path, redis_server: RedisServer, rate_limit: str
) -> None:
    """R8: with Redis gone, submits answer 202 or 503 (never 500, never a hang); a 503 leaves no
    row; every 202's job is enqueued by the reconciler after Redis returns (empty: no
    persistence) and completes within 10 s plus the reconciler's age threshold; the list holds
    exactly the accepted jobs. With the rate limiter counting in Redis, submits are refused
    (it cannot count); without it, they are accepted and run later."""
    env = {
        "ATSPRO_QUEUE_URL": redis_server.url,
        "REDIS_URL": redis_server.url,
        "ATSPRO_SECRET_KEY": secrets.token_urlsafe(48),
        "ATSPRO_RATE_LIMIT_SUBMIT": rate_limit,
    }
    with app_process(tmp_path / "data", **env) as app:
        app.start()
        api = Api(app, app.create_user("r8@example.com"))
        before = api.submit(echo="before")
        assert api.wait_for(before["id"], TERMINAL)["status"] == "completed"

        redis_server.shutdown_nosave()
        accepted: list[str] = []
        refused = 0
        for n in range(8):
            started = time.monotonic()
            response = httpx.post(
                f"{app.base_url}/api/jobs",
                json={"jobType": "diagnostic.echo", "inputData": {"echo": n}},
                headers=api.headers,
                timeout=30,
            )
            assert time.monotonic() - started < 15  # bounded connects, no hang
            assert response.status_code in {202, 503}, response.text
            if response.status_code == 202:
                accepted.append(response.json()["id"])
                assert response.json()["status"] == "pending"
            else:
                assert response.headers["retry-after"]
                refused += 1
        listed = httpx.get(
            f"{app.base_url}/api/jobs", params={"limit": 100}, headers=api.headers, timeout=30
        )
        if listed.status_code == 200:  # reads come from SQL, Redis or not
            ids = {job["id"] for job in listed.json()["items"]}
            assert ids == {before["id"], *accepted}

        redis_server.start()
        back = time.monotonic()
        finished = [api.wait_for(job_id, TERMINAL, timeout=40) for job_id in accepted]
        assert [job["status"] for job in finished] == ["completed"] * len(accepted)
        assert time.monotonic() - back < 10 + 10 + 5  # reconciler skips rows younger than 10 s
        page = httpx.get(
            f"{app.base_url}/api/jobs", params={"limit": 100}, headers=api.headers, timeout=30
        ).json()
        assert {job["id"] for job in page["items"]} == {before["id"], *accepted}
        assert len(accepted) + refused == 8
        assert (refused == 8) if rate_limit != "off" else (len(accepted) == 8)
