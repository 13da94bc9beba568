"""One queue contract, three backends: our SQLite file, the machine's Redis and Postgres.

Redis and Postgres are real servers; when one is unreachable its tests fail (never skip). Every
test gets a queue name of its own and removes what it wrote.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis.asyncio as aioredis
from saq import Queue, Worker

from app.queues import make_queue

REDIS_URL = os.environ.get("ATSPRO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "ATSPRO_TEST_QUEUE_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
CLAIMER = Path(__file__).with_name("claimer.py")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Backend:
    """A queue backend under test and what it can do."""

    kind: str
    url: str

    @property
    def has_priorities(self) -> bool:
        """Redis ignores ``job.priority`` (SAQ #52)."""
        return self.kind in ("sqlite", "postgres")

    def options(self) -> dict[str, Any]:
        if self.kind == "postgres":
            return {"min_size": 1, "max_size": 10}
        return {}

    async def cleanup(self, name: str) -> None:
        if self.kind == "redis":
            client = aioredis.from_url(self.url)
            try:
                keys = [key async for key in client.scan_iter(match=f"saq:*{name}*")]
                if keys:
                    await client.delete(*keys)
            finally:
                await client.aclose()
        elif self.kind == "postgres":
            async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                await conn.execute("DELETE FROM saq_jobs WHERE queue = %s", (name,))
                await conn.execute("DELETE FROM saq_stats WHERE queue_key = %s", (name,))

    async def check_reachable(self) -> None:
        """Fail fast (rather than after a pool timeout) when the server is down."""
        if self.kind == "redis":
            client = aioredis.from_url(self.url, socket_connect_timeout=3)
            try:
                await client.ping()
            finally:
                await client.aclose()
        elif self.kind == "postgres":
            conn = await psycopg.AsyncConnection.connect(self.url, connect_timeout=3)
            await conn.close()


@pytest.fixture(params=["sqlite", "redis", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    urls = {
        "sqlite": f"sqlite:///{tmp_path / 'queue.db'}",
        "redis": REDIS_URL,
        "postgres": POSTGRES_URL,
    }
    chosen = Backend(request.param, urls[request.param])
    await chosen.check_reachable()
    return chosen


@pytest.fixture
def sqlite_backend(tmp_path: Path) -> Backend:
    return Backend("sqlite", f"sqlite:///{tmp_path / 'queue.db'}")


QueueFactory = Callable[..., Awaitable[Queue]]
Uid = Callable[[str], str]


@pytest.fixture
def uid() -> Uid:
    """Job keys unique to this test: Postgres keys and Redis abort markers span all queues, so
    fixed keys would collide with a concurrent or aborted earlier run."""
    prefix = uuid.uuid4().hex[:8]
    return lambda name: f"{prefix}-{name}"


@asynccontextmanager
async def queue_factory(backend: Backend) -> AsyncIterator[QueueFactory]:
    """Connected queues on ``backend``; all share one fresh name unless told otherwise."""
    default_name = f"t{uuid.uuid4().hex[:12]}"
    opened: list[Queue] = []
    names = {default_name}

    async def open_queue(name: str | None = None, **options: Any) -> Queue:
        names.add(name or default_name)
        queue = make_queue(backend.url, name or default_name, **{**backend.options(), **options})
        await queue.connect()
        opened.append(queue)
        return queue

    try:
        yield open_queue
    finally:
        for queue in reversed(opened):
            await queue.disconnect()
        for name in names:
            await backend.cleanup(name)


@pytest.fixture
async def open_queue(backend: Backend) -> AsyncIterator[QueueFactory]:
    async with queue_factory(backend) as factory:
        yield factory


@pytest.fixture
async def queue(open_queue: QueueFactory) -> Queue:
    return await open_queue()


@pytest.fixture
async def open_sqlite_queue(sqlite_backend: Backend) -> AsyncIterator[QueueFactory]:
    async with queue_factory(sqlite_backend) as factory:
        yield factory


@asynccontextmanager
async def running_worker(
    queue: Queue, functions: Collection[Any], **options: Any
) -> AsyncIterator[Worker]:
    """A real SAQ Worker in this loop, started before the block and stopped after it."""
    started = asyncio.Event()

    async def on_startup(_ctx: Any) -> None:
        started.set()

    settings: dict[str, Any] = {
        "concurrency": 4,
        "dequeue_timeout": 1,
        "timers": {"schedule": 1, "worker_info": 10, "sweep": 60, "abort": 1},
        **options,
    }
    worker = Worker(queue, functions, startup=[on_startup], **settings)
    worker.SIGNALS = []  # the test runner owns signals
    task = asyncio.create_task(worker.start())
    try:
        await asyncio.wait_for(started.wait(), 10)
        yield worker
    finally:
        await worker.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def scheduling(queue: Queue, every: float = 0.2) -> None:
    """What a Worker does every second: let due scheduled jobs move (Redis needs it)."""
    while True:
        await queue.schedule()
        await asyncio.sleep(every)


@asynccontextmanager
async def background(coroutine: Awaitable[None]) -> AsyncIterator[None]:
    task = asyncio.ensure_future(coroutine)
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def claimer_process(*args: str) -> asyncio.subprocess.Process:
    """Start ``claimer.py`` (a queue client in its own OS process)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(CLAIMER),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
