"""The operations views on the scaled-out backends: SAQ's monitor on a Redis and on a
PostgreSQL queue, the console, attempts and analytics on PostgreSQL app tables."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio

from app.settings import Settings
from tests.api.test_admin_analytics import check_analytics
from tests.api.test_admin_monitor import check_abort_and_retry, check_pages_static_and_json
from tests.conftest import REDIS_URL, LiveApp
from tests.fixtures.dead_letters import failed

REDIS_DB = 11  # used by no other test


@pytest.fixture
async def redis_queue_url() -> AsyncIterator[str]:
    url = REDIS_URL.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    client = redis.asyncio.Redis.from_url(url)
    await client.flushdb()
    try:
        yield url
    finally:
        await client.flushdb()
        await client.aclose()


async def test_monitor_on_a_redis_queue(
    redis_queue_url: str,
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], AsyncIterator[LiveApp]],
) -> None:
    """On SAQ's RedisQueue the monitor's pages, static files and JSON answer, and its Abort and
    Retry act on our job table."""
    async for live in serve(make_settings(queue_url=redis_queue_url)):
        await check_pages_static_and_json(live)
        await check_abort_and_retry(live)


async def test_operations_on_postgres(
    migrated_postgres: str,
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], AsyncIterator[LiveApp]],
) -> None:
    """PostgreSQL app tables and SAQ's PostgresQueue: the monitor, the console's inspection
    with attempts, and analytics (days grouped in UTC, percentiles in Python)."""
    queue_url = migrated_postgres.replace("postgresql+asyncpg://", "postgresql://")
    settings = make_settings(database_url=migrated_postgres, queue_url=queue_url)
    async for live in serve(settings):
        await check_pages_static_and_json(live)
        await check_abort_and_retry(live)
        async with (
            await live.user("pg-ops@example.com", admin=True) as admin,
            await live.user("pg-ann@example.com") as ann,
        ):
            job = await failed(ann, "internal")
            found = (await admin.get(f"/api/admin/jobs/{job['id']}")).json()
            [attempt] = found["attempts"]
            assert attempt["outcome"] == "failed"
            assert "RuntimeError: diagnostic failure 1 of 1" in attempt["traceback"]
            assert (await admin.delete(f"/api/admin/jobs/{job['id']}")).status_code == 204
            # The failure above is one of this window's jobs; analytics counts from a clean slate.
        await check_analytics_on_fresh_window(live)


async def check_analytics_on_fresh_window(live: LiveApp) -> None:
    """Jobs the earlier checks ran would count too: remove them, then check the numbers."""
    await live.container.db.write(lambda c: c.exec_driver_sql("DELETE FROM background_jobs"))
    await check_analytics(live)
