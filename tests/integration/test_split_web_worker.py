"""A web process and a worker process (two apps in this test's loop, each with its own bus and
locks, like two processes) sharing a Redis queue and Redis events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpx
import redis.asyncio
from saq.job import Status

from app.settings import Settings
from tests.conftest import REDIS_URL, LiveApp, read_sse

REDIS_DB = 12
NO_POLLING_S = 60.0  # SSE streams would poll this rarely: what arrives sooner came over Redis


async def readiness(app: LiveApp) -> dict[str, Any]:
    """The process's checks once it is ready. Asked again for a few seconds while only the
    loop check fails: both processes share this test's event loop, and a process starting in
    it can hold the loop past the 500 ms lag bound on a slow machine (615 ms seen in CI)."""
    async with httpx.AsyncClient(base_url=app.base_url) as client:
        with anyio.fail_after(10):
            while True:
                response = await client.get("/readyz")
                if response.status_code == 200 or response.json().get("failed") != ["loop"]:
                    break
                await anyio.sleep(0.2)
    assert response.status_code == 200, response.text
    return dict(response.json()["checks"])


async def test_a_web_process_follows_jobs_run_by_a_worker_process(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> None:
    """/readyz on the web process counts live workers per queue (none, then the worker process's),
    and its SSE stream sees a job that the worker process runs, through Redis, not by polling."""
    url = REDIS_URL.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    client = redis.asyncio.Redis.from_url(url)
    await client.flushdb()
    await client.aclose()
    split = {"queue_url": url, "redis_url": url, "sse_poll_s": NO_POLLING_S}
    async for web in serve(make_settings(mode="web", **split)):
        with anyio.fail_after(10):
            while (checks := await readiness(web))["events"] != "ok":
                await anyio.sleep(0.05)
        assert {checks[f"queue:{name}"]["workers"] for name in ("high", "default", "low")} == {0}

        async with await web.user("split@example.com") as api:
            job = (
                await api.post(
                    "/api/jobs",
                    json={"jobType": "diagnostic.echo", "inputData": {"seconds": 0.6, "steps": 3}},
                )
            ).json()
            async with api.stream("GET", "/api/jobs/events", params={"job_id": job["id"]}) as r:
                messages = read_sse(r)
                first = await anext(messages)
                assert first["data"]["eventType"] == "snapshot"
                assert first["data"]["job"]["status"] == "pending"
                async for worker in serve(make_settings(mode="worker", **split)):
                    with anyio.fail_after(NO_POLLING_S / 2):
                        seen = [message["data"]["eventType"] async for message in messages]
                    assert seen[0] == "started"
                    assert "progress" in seen
                    assert seen[-1] == "completed"
                    checks = await readiness(web)
                    for name in ("high", "default", "low"):
                        assert checks[f"queue:{name}"]["workers"] == 1
                    assert "worker:default" in await readiness(worker)


async def test_a_job_claimed_by_a_worker_that_died_before_starting_it_runs_again(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> None:
    """A job a worker took off the queue but never started (it died in between) is still pending
    in the job table: the reconciler puts it back, and a live worker runs it."""
    url = REDIS_URL.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    client = redis.asyncio.Redis.from_url(url)
    await client.flushdb()
    await client.aclose()
    split = {"queue_url": url, "redis_url": url}
    async for web in serve(make_settings(mode="web", **split)):
        async with await web.user("claimed@example.com") as api:
            job = (
                await api.post("/api/jobs", json={"jobType": "diagnostic.echo", "inputData": {}})
            ).json()
            queue = web.container.queues["default"]
            claimed = await queue.dequeue(timeout=5)
            assert claimed is not None
            assert claimed.key == job["id"]
            await claimed.update(status=Status.ACTIVE)  # as a worker does, right before it dies
            assert await web.container.jobs.reconcile(older_than_s=0) == 1
            async for _worker in serve(make_settings(mode="worker", **split)):
                with anyio.fail_after(30):
                    while (await api.get(f"/api/jobs/{job['id']}")).json()["status"] != "completed":
                        await anyio.sleep(0.05)
