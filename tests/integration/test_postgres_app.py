"""The whole product on PostgreSQL app tables and a Redis queue (the scaled-out backends)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import anyio
import redis.asyncio

from app.settings import Settings
from tests.conftest import REDIS_URL, LiveApp, read_sse

REDIS_DB = 10


async def test_job_lifecycle_on_postgres_and_redis(
    migrated_postgres: str,
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], AsyncIterator[LiveApp]],
) -> None:
    """Submit, follow over SSE, fail and retry, cancel and delete all work on PostgreSQL."""
    queue_url = REDIS_URL.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    client = redis.asyncio.Redis.from_url(queue_url)
    await client.flushdb()
    await client.aclose()
    settings = make_settings(database_url=migrated_postgres, queue_url=queue_url)
    async for app in serve(settings):
        async with await app.user("pg@example.com") as api:
            job = (
                await api.post(
                    "/api/jobs",
                    json={"jobType": "diagnostic.echo", "inputData": {"seconds": 0.2, "steps": 2}},
                )
            ).json()
            async with api.stream("GET", "/api/jobs/events", params={"job_id": job["id"]}) as r:
                messages = [m async for m in read_sse(r)]
            assert messages[-1]["data"]["eventType"] == "completed"
            assert messages[-1]["data"]["job"]["progress"] == 100

            failing = (
                await api.post(
                    "/api/jobs",
                    json={
                        "jobType": "diagnostic.echo",
                        "inputData": {"failTimes": 1, "failKind": "user"},
                    },
                )
            ).json()
            with anyio.fail_after(30):
                while (await api.get(f"/api/jobs/{failing['id']}")).json()["status"] != "failed":
                    await anyio.sleep(0.05)
            assert (await api.post(f"/api/jobs/{failing['id']}/retry")).status_code == 202
            with anyio.fail_after(30):
                while (await api.get(f"/api/jobs/{failing['id']}")).json()["status"] != "completed":
                    await anyio.sleep(0.05)

            slow = (
                await api.post(
                    "/api/jobs", json={"jobType": "diagnostic.echo", "inputData": {"seconds": 30}}
                )
            ).json()
            cancelled = await api.post(f"/api/jobs/{slow['id']}/cancel")
            assert cancelled.json()["status"] == "cancelled"
            assert (await api.delete(f"/api/jobs/{slow['id']}")).status_code == 204
            listing = (await api.get("/api/jobs")).json()
            assert {item["id"] for item in listing["items"]} == {job["id"], failing["id"]}
