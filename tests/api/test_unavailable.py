"""A backend that is down answers 503 with Retry-After, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx

from app.settings import Settings
from tests.conftest import LiveApp, free_port


async def test_database_down_is_503_with_retry_after(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> None:
    """D3: With PostgreSQL unreachable, an authenticated request gets 503 and Retry-After."""
    dead = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"
    redis = "redis://127.0.0.1:6379/7"
    settings = make_settings(database_url=dead, mode="web", queue_url=redis, redis_url=redis)
    async for app in serve(settings):
        async with httpx.AsyncClient(base_url=app.base_url) as client:
            response = await client.get("/api/jobs", headers={"Authorization": "Bearer atp_x"})
            assert response.status_code == 503
            assert response.headers["retry-after"] == "5"
            assert response.json()["title"] == "Service unavailable"
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"].startswith("error")
