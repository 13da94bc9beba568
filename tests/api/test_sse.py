"""Server-Sent Events: clients that leave free what they held; shutdown ends open streams."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import httpx
import uvicorn

from app.main import create_app
from app.settings import Settings
from tests.conftest import LiveApp, free_port, read_sse


async def test_client_that_goes_away_frees_its_subscription(live: LiveApp) -> None:
    """E1: after clients disconnect mid-stream, no subscription is left behind."""
    bus = live.container.bus
    async with await live.user("leave@example.com") as client:
        response = await client.post(
            "/api/jobs", json={"jobType": "diagnostic.echo", "inputData": {"seconds": 20}}
        )
        job_id = response.json()["id"]
        for _ in range(5):
            async with client.stream(
                "GET", "/api/jobs/events", params={"job_id": job_id}
            ) as stream:
                async for message in read_sse(stream):
                    assert message["data"]["eventType"] == "snapshot"
                    break
                assert bus.subscriber_count >= 1
        with anyio.fail_after(10):
            while bus.subscriber_count:
                await anyio.sleep(0.05)
        await client.post(f"/api/jobs/{job_id}/cancel")


async def test_bad_last_event_id_is_a_422(live: LiveApp) -> None:
    """A Last-Event-ID that is not an event id is refused before a stream opens."""
    async with await live.user("lei@example.com") as client:
        response = await client.get("/api/jobs/events", headers={"Last-Event-ID": "abc"})
        assert response.status_code == 422
        assert response.json()["field"] == "Last-Event-ID"


async def test_shutdown_with_open_streams_is_prompt(
    make_settings: Callable[..., Settings],
) -> None:
    """E6: a server with open SSE streams shuts down within seconds and the streams end."""
    app = create_app(make_settings())
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    ended: list[str] = []

    async def watch(client: httpx.AsyncClient, name: str) -> None:
        try:
            async with client.stream("GET", "/api/jobs/events") as stream:
                async for _ in stream.aiter_lines():
                    pass
        except httpx.HTTPError:
            pass
        ended.append(name)

    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(30):
            while not server.started:
                await anyio.sleep(0.02)
        live = LiveApp(base_url=f"http://127.0.0.1:{port}", app=app)
        client = await live.user("open@example.com")
        for index in range(5):
            tg.start_soon(watch, client, f"stream-{index}")
        with anyio.fail_after(10):
            while app.state.container.bus.subscriber_count < 5:
                await anyio.sleep(0.02)
        started = time.monotonic()
        server.should_exit = True
        with anyio.fail_after(15):
            while len(ended) < 5:
                await anyio.sleep(0.02)
    # Leaving the task group waited for server.serve() to return: the whole shutdown.
    elapsed = time.monotonic() - started
    await client.aclose()
    assert sorted(ended) == [f"stream-{index}" for index in range(5)]
    assert elapsed < 10
