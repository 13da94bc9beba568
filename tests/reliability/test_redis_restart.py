"""R9 and E4: Redis restarts empty (``SHUTDOWN NOSAVE``) in the middle of a run. Workers wait it
out without spinning and carry on without a restart; the reconciler re-enqueues what the empty
Redis forgot; every job ends; SSE clients get every terminal event, once."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
import redis.asyncio
from saq import Worker
from saq.job import Job

from app.queues.resilient import ResilientRedisQueue
from app.settings import Settings
from tests.conftest import LiveApp, read_sse
from tests.reliability.redis_server import RedisServer

USERS = 3
JOBS_PER_USER = 8
TERMINAL = {"completed", "failed", "cancelled"}
NO_POLLING_S = 60.0  # streams would poll this rarely: they must be woken to see anything sooner


@asynccontextmanager
async def running(
    serve: Callable[[Settings], AsyncIterator[LiveApp]], settings: Settings
) -> AsyncIterator[LiveApp]:
    """The ``serve`` fixture as an async context manager."""
    async for app in serve(settings):
        yield app


async def follow(
    client: httpx.AsyncClient, jobs: int, events: list[dict[str, Any]], done: list[bool]
) -> None:
    """Collect a user's SSE events until ``jobs`` terminal events have arrived."""
    terminal = 0
    async with client.stream("GET", "/api/jobs/events") as response:
        async for message in read_sse(response):
            events.append(message)
            if message["data"]["eventType"] in TERMINAL:
                terminal += 1
                if terminal == jobs:
                    done.append(True)
                    return


async def statuses(clients: list[httpx.AsyncClient]) -> list[str]:
    found: list[str] = []
    for client in clients:
        page = (await client.get("/api/jobs", params={"limit": 100})).json()
        found += [job["status"] for job in page["items"]]
    return found


@pytest.mark.parametrize("layout", ["one process", "web and worker"])
async def test_jobs_and_live_streams_survive_a_redis_restart(
    layout: str,
    redis_server: RedisServer,
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], AsyncIterator[LiveApp]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Jobs running, queued and finishing while Redis is down all complete once it is back (the
    queued ones re-enqueued by the reconciler), and each user's SSE stream (served by a process
    that runs no worker, in the split layout) gets each job's terminal event exactly once, in
    event order, without waiting for a poll."""
    caplog.set_level(logging.INFO, logger="atspro.recovery")
    backends = {
        "queue_url": redis_server.url,
        "redis_url": redis_server.url,
        "sse_poll_s": NO_POLLING_S,
        # Few slots, so that many jobs are still queued (in Redis only) when it goes down.
        "concurrency_high": 2,
        "concurrency_default": 2,
        "concurrency_low": 1,
    }
    async with AsyncExitStack() as stack:
        if layout == "one process":
            web = await stack.enter_async_context(running(serve, make_settings(**backends)))
        else:
            web_settings = make_settings(mode="web", **backends)
            web = await stack.enter_async_context(running(serve, web_settings))
            worker_settings = make_settings(mode="worker", **backends)
            await stack.enter_async_context(running(serve, worker_settings))
        clients = [
            await stack.enter_async_context(await web.user(f"r9-{n}@example.com"))
            for n in range(USERS)
        ]
        events: list[list[dict[str, Any]]] = [[] for _ in clients]
        followed: list[bool] = []
        async with anyio.create_task_group() as streams:
            for client, log in zip(clients, events, strict=True):
                streams.start_soon(follow, client, JOBS_PER_USER, log, followed)
            for n in range(JOBS_PER_USER):
                for client in clients:
                    job = {"seconds": 0.5 + (n % 4) * 0.5, "steps": 4, "echo": str(n)}
                    response = await client.post(
                        "/api/jobs",
                        json={"jobType": "diagnostic.echo", "inputData": job, "priority": 1 + n},
                    )
                    assert response.status_code == 202, response.text
            with anyio.fail_after(30):
                while (await statuses(clients)).count("completed") < 3:
                    await anyio.sleep(0.05)
            redis_server.shutdown_nosave()
            await anyio.sleep(3)
            redis_server.start()
            with anyio.fail_after(60):
                while set(found := await statuses(clients)) != {"completed"}:
                    assert not set(found) & {"failed", "cancelled"}
                    await anyio.sleep(0.2)
            with anyio.fail_after(NO_POLLING_S / 4):
                while len(followed) < USERS:
                    await anyio.sleep(0.05)
        for log in events:
            ids = [int(message["id"]) for message in log]
            assert ids == sorted(set(ids))  # in order, none twice
            finished = [m["data"]["job"]["id"] for m in log if m["data"]["eventType"] in TERMINAL]
            assert len(finished) == len(set(finished)) == JOBS_PER_USER
    reconciled = [r for r in caplog.records if getattr(r, "task", None) == "reconciler"]
    assert sum(record.count for record in reconciled) >= 1


class CountingQueue(ResilientRedisQueue):
    """Counts dequeue attempts (the busy loop SAQ falls into without backoff)."""

    attempts = 0

    async def dequeue(self, timeout: float = 0.0, poll_interval: float = 0.0) -> Job | None:
        self.attempts += 1
        return await super().dequeue(timeout, poll_interval)


async def test_workers_back_off_while_redis_is_down_and_resume_by_themselves(
    redis_server: RedisServer,
) -> None:
    """With Redis gone, four worker slots try a few times a second, not thousands; once it is back
    they take jobs again without a restart."""
    queue = CountingQueue(
        redis.asyncio.Redis.from_url(redis_server.url), name=f"q{uuid.uuid4().hex}"
    )
    await queue.connect()
    done = anyio.Event()

    async def task(_ctx: Any) -> None:
        done.set()

    worker = Worker(queue, functions=[("task", task)], concurrency=4, dequeue_timeout=1)
    worker.SIGNALS = []
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(worker.start)
        await anyio.sleep(0.2)
        redis_server.shutdown_nosave()
        before = queue.attempts
        await anyio.sleep(2)
        assert queue.attempts - before < 100  # SAQ alone: about 20,000 in 2 s
        redis_server.start()
        await queue.enqueue("task")
        with anyio.fail_after(15):
            await done.wait()
        with anyio.CancelScope(shield=True):
            await worker.stop()
        tasks.cancel_scope.cancel()
    await queue.disconnect()
