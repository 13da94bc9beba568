"""The whole product as a peer system: the ``atspro`` app in this process with its workers.

Jobs are ``diagnostic.echo`` submitted through ``JobService.submit`` (row + event + commit +
enqueue, what ``POST /api/jobs`` does after parsing). Without workers the service comes from
``app.lifespan.build`` (what the CLI uses); with workers, the app runs under a real uvicorn server
(``bench.product.serve``) on the same data directory, so the drain phases start with a full queue
exactly like the raw systems. Start and end of a job are the row's ``started_at`` (marked running,
just before the task body) and ``completed_at``.
"""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.lifespan import build
from app.models import BackgroundJob
from app.settings import Settings
from bench.peers.jobs import SLEEP_S
from bench.peers.systems import System, flush_redis
from bench.product import JOB_TYPE, serve


async def submit_echo(container: Any, user_id: uuid.UUID | None, *, sleep: bool) -> str:
    """One ``diagnostic.echo`` through ``JobService.submit``, as ``POST /api/jobs`` does."""
    assert user_id is not None
    data = {"seconds": SLEEP_S} if sleep else {}
    job = await container.jobs.submit(user_id, JOB_TYPE, data, priority=5)
    return str(job.id)


class ProductSystem(System):
    def __init__(self, name: str, *, redis_db: int | None, notes: str) -> None:
        self.name = name
        self.notes = notes
        self.redis_db = redis_db
        self.tmp: tempfile.TemporaryDirectory[str] | None = None
        self.stack: contextlib.AsyncExitStack | None = None
        self.container: Any = None
        self.user_id: uuid.UUID | None = None
        self.serving = False  # workers run in this process: completions are counted in memory
        self.completed_before = 0  # completed in the table when the workers started

    def _settings(self, concurrency: int) -> Settings:
        assert self.tmp is not None
        queue_url = None
        if self.redis_db is not None:
            queue_url = f"redis://127.0.0.1:6379/{self.redis_db}"
        return Settings(
            data_dir=Path(self.tmp.name) / "data",
            queue_url=queue_url,
            database_url=None,
            redis_url=None,
            progress_event_interval_s=0,
            log_level="warning",
            concurrency_default=concurrency,
            shutdown_grace_s=1,
        )

    async def _open(self, concurrency: int | None) -> None:
        """The service without workers (``concurrency`` None) or the app serving with them."""
        self.stack = contextlib.AsyncExitStack()
        if concurrency is None:
            self.container = await self.stack.enter_async_context(build(self._settings(10)))
        else:
            app, _url = await self.stack.enter_async_context(serve(self._settings(concurrency)))
            self.container = app.state.container

    async def _close(self) -> None:
        if self.stack is not None:
            await self.stack.aclose()
        self.stack = self.container = None

    async def setup(self) -> None:
        if self.redis_db is not None:
            await flush_redis(self.redis_db)
        self.tmp = tempfile.TemporaryDirectory(prefix="atspro-peers-")
        await self._open(None)
        user, _token = await self.container.auth.create_user(f"peers-{uuid.uuid4().hex[:8]}@x.io")
        self.user_id = user.id

    async def enqueue(self, *, sleep: bool) -> str:
        return await submit_echo(self.container, self.user_id, sleep=sleep)

    async def start_workers(self, concurrency: int) -> None:
        self.completed_before = await self.completed_in_table()
        await self._close()
        await self._open(concurrency)
        self.serving = True

    async def stop_workers(self) -> None:
        self.serving = False
        await self._close()
        await self._open(None)

    async def spans(self) -> dict[str, tuple[float, float]]:
        query = select(
            BackgroundJob.id, BackgroundJob.started_at, BackgroundJob.completed_at
        ).where(BackgroundJob.user_id == self.user_id, BackgroundJob.status == "completed")
        rows = await self.container.db.read(lambda conn: conn.execute(query).all())
        return {
            str(row.id): (row.started_at.timestamp(), row.completed_at.timestamp()) for row in rows
        }

    async def finished(self) -> int:
        """Polled every 20 ms while a phase drains. With the workers here, the app's own count
        of committed completions (its metrics): a count of the table's rows on every poll
        took 0.6-0.8 ms of the process that is being measured, as the raw systems' counts
        (``_InProcess.finished``) do not. The spans still come from the rows."""
        if not self.serving:
            return await self.completed_in_table()
        return self.completed_before + self.container.metrics.count("completed", JOB_TYPE)

    async def completed_in_table(self) -> int:
        query = select(func.count()).where(
            BackgroundJob.user_id == self.user_id, BackgroundJob.status == "completed"
        )
        return int(await self.container.db.read(lambda conn: conn.scalar(query)) or 0)

    async def teardown(self) -> None:
        await self._close()
        if self.tmp is not None:
            self.tmp.cleanup()
        self.tmp = None


def product_sqlite() -> ProductSystem:
    return ProductSystem(
        "atspro-sqlite",
        redis_db=None,
        notes="the product, one process: SQLite app tables + SQLite queue, in-process events",
    )


def product_redis(db: int) -> ProductSystem:
    return ProductSystem(
        "atspro-redis",
        redis_db=db,
        notes="the product, one process: SQLite app tables, queue on Redis",
    )


class SplitSystem(System):
    """The product in split mode: jobs submitted through ``JobService`` in this process (as a web
    process would, on PostgreSQL app tables and a Redis queue), drained by two real ``atspro
    worker`` processes that share the concurrency (5 + 5, 50 + 50)."""

    WORKERS = 2

    def __init__(self, redis_db: int) -> None:
        self.name = "atspro-split"
        self.notes = (
            "the product split: PostgreSQL app tables, Redis queue and events, "
            f"{self.WORKERS} `atspro worker` processes sharing the concurrency"
        )
        self.redis_url = f"redis://127.0.0.1:6379/{redis_db}"
        self.redis_db = redis_db
        self.tmp: tempfile.TemporaryDirectory[str] | None = None
        self.stack: contextlib.AsyncExitStack | None = None
        self.container: Any = None
        self.user_id: uuid.UUID | None = None
        self.db_name: str | None = None
        self.workers: list[Any] = []

    async def setup(self) -> None:
        from bench.fleet import create_database

        await flush_redis(self.redis_db)
        self.tmp = tempfile.TemporaryDirectory(prefix="atspro-peers-split-")
        self.db_name, self.db_url = await create_database()
        settings = Settings(
            data_dir=Path(self.tmp.name) / "data",
            database_url=self.db_url,
            queue_url=self.redis_url,
            redis_url=self.redis_url,
            auto_migrate=True,
            progress_event_interval_s=0,
            log_level="warning",
        )
        self.stack = contextlib.AsyncExitStack()
        self.container = await self.stack.enter_async_context(build(settings))
        user, _token = await self.container.auth.create_user(f"peers-{uuid.uuid4().hex[:8]}@x.io")
        self.user_id = user.id

    async def enqueue(self, *, sleep: bool) -> str:
        return await submit_echo(self.container, self.user_id, sleep=sleep)

    async def start_workers(self, concurrency: int) -> None:
        import asyncio

        from bench.fleet import Process, base_env

        assert self.tmp is not None
        root = Path(self.tmp.name)
        env = base_env(
            root / "data",
            DATABASE_URL=self.db_url,
            ATSPRO_QUEUE_URL=self.redis_url,
            REDIS_URL=self.redis_url,
            ATSPRO_SHUTDOWN_GRACE_S="1",
        )
        each = str(max(1, concurrency // self.WORKERS))
        self.workers = [
            Process(
                ["worker", "--queues", "default", "--concurrency", each], env, root / f"w{n}.log"
            )
            for n in range(self.WORKERS)
        ]
        await asyncio.gather(*(worker.start() for worker in self.workers))

    async def stop_workers(self) -> None:
        import asyncio

        await asyncio.gather(*(worker.stop() for worker in self.workers))
        self.workers = []

    spans = ProductSystem.spans
    finished = ProductSystem.completed_in_table  # its workers run in other processes

    async def teardown(self) -> None:
        from bench.fleet import drop_database

        await self.stop_workers()
        if self.stack is not None:
            await self.stack.aclose()
        self.stack = self.container = None
        if self.db_name is not None:
            await drop_database(self.db_name)
        self.db_name = None
        if self.tmp is not None:
            self.tmp.cleanup()
        self.tmp = None
        await flush_redis(self.redis_db)
