"""The job systems under test, behind one small interface the harness drives.

Every system gets the same treatment: its backend is flushed before each cell, jobs are enqueued
by one producer in this process, and workers are started only when the harness says so, so the
enqueue phase runs without a worker (the FastAPI-handler case) and the drain phases start with a
full queue. SAQ and arq run their worker in this event loop (as the product does); RQ has no
asyncio worker, so it runs ``rq worker`` as a child process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from saq import Worker
from saq.queue.base import Queue

from bench.common import REDIS_BASE_URL
from bench.peers.jobs import RECORD_ENV, Timings, pause, read_record

ROOT = Path(__file__).resolve().parents[2]
QUEUE_NAME = "bench"


class System:
    """One job system. ``enqueue`` returns the job's key; ``spans`` maps keys to (start, end)."""

    name = ""
    notes = ""
    max_concurrency: int | None = None  # RQ runs one job at a time per worker
    max_sleep_jobs: int | None = None  # cap for the sleep drain when it would take minutes

    async def setup(self) -> None:
        raise NotImplementedError

    async def enqueue(self, *, sleep: bool) -> str:
        raise NotImplementedError

    async def start_workers(self, concurrency: int) -> None:
        raise NotImplementedError

    async def stop_workers(self) -> None:
        raise NotImplementedError

    async def spans(self) -> dict[str, tuple[float, float]]:
        raise NotImplementedError

    async def finished(self) -> int:
        """How many jobs have ended so far (polled while waiting)."""
        return len(await self.spans())

    async def teardown(self) -> None:
        raise NotImplementedError


async def flush_redis(db: int) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(f"{REDIS_BASE_URL}/{db}")
    try:
        await client.flushdb()
    finally:
        await client.aclose()


class _InProcess(System):
    """A system whose jobs run in this process and record themselves in ``self.timings``."""

    timings: Timings

    async def spans(self) -> dict[str, tuple[float, float]]:
        return self.timings.spans()

    async def finished(self) -> int:
        # Polled every 20 ms while a phase drains: a count, not a dict of every span so far
        # (at 30,000 jobs that dict was a sixth of the event loop's time, slowing the peer).
        return len(self.timings.ended)


class _SaqWorker(Worker):  # type: ignore[type-arg]
    SIGNALS: list[signal.Signals] = []  # noqa: RUF012 (in-process: no signal handlers)


class SaqSystem(_InProcess):
    """Raw SAQ (any backend): ``saq.Worker`` with SAQ's defaults, in this event loop."""

    def __init__(
        self,
        name: str,
        make_queue: Callable[[], Queue],
        flush: Callable[[], Awaitable[None]],
        notes: str = "",
    ) -> None:
        self.name = name
        self.notes = notes
        self._make_queue = make_queue
        self._flush = flush
        self.timings = Timings()
        self.queue: Queue | None = None
        self.worker: _SaqWorker | None = None
        self.task: asyncio.Task[None] | None = None

    async def setup(self) -> None:
        await self._flush()
        self.timings.clear()
        self.queue = self._make_queue()
        await self.queue.connect()

    async def enqueue(self, *, sleep: bool) -> str:
        assert self.queue is not None
        job = await self.queue.enqueue("sleep" if sleep else "noop")
        assert job is not None
        return str(job.key)

    async def start_workers(self, concurrency: int) -> None:
        timings = self.timings

        async def noop(ctx: dict[str, Any]) -> None:
            key = ctx["job"].key
            timings.started[key] = time.time()
            timings.ended[key] = time.time()

        async def sleep(ctx: dict[str, Any]) -> None:
            key = ctx["job"].key
            timings.started[key] = time.time()
            await pause()
            timings.ended[key] = time.time()

        assert self.queue is not None
        self.worker = _SaqWorker(
            self.queue, functions=[("noop", noop), ("sleep", sleep)], concurrency=concurrency
        )
        self.task = asyncio.create_task(self.worker.start())

    async def stop_workers(self) -> None:
        if self.worker is not None:
            await asyncio.sleep(0.05)  # let the last jobs write their final state
            await self.worker.stop()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        self.worker = self.task = None

    async def teardown(self) -> None:
        await self.stop_workers()
        if self.queue is not None:
            await self.queue.disconnect()
        self.queue = None


def saq_redis(db: int) -> SaqSystem:
    from saq.queue.redis import RedisQueue

    return SaqSystem(
        "saq-redis",
        lambda: RedisQueue.from_url(f"{REDIS_BASE_URL}/{db}", name=QUEUE_NAME),
        lambda: flush_redis(db),
        "SAQ defaults: job state and results kept 600 s, status changes published",
    )


def saq_postgres(url: str) -> SaqSystem:
    """``url``: a plain ``postgresql://`` URL of a database of our own."""
    from saq.queue.postgres import PostgresQueue

    async def flush() -> None:
        import asyncpg

        connection = await asyncpg.connect(url)
        try:
            exists = await connection.fetchval("SELECT to_regclass('saq_jobs') IS NOT NULL")
            if exists:
                await connection.execute("TRUNCATE saq_jobs, saq_stats")
        finally:
            await connection.close()

    return SaqSystem(
        "saq-postgres",
        lambda: PostgresQueue.from_url(url, name=QUEUE_NAME),
        flush,
        "SAQ's PostgresQueue, default pool, stock durable settings",
    )


def saq_sqlite(directory: Path) -> SaqSystem:
    """Our SQLiteQueue alone under SAQ's Worker: no job table, no events."""
    from app.queues.sqlite import SQLiteQueue

    path = directory / "queue.db"

    async def flush() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    return SaqSystem(
        "sqlite-queue",
        lambda: SQLiteQueue(path, name=QUEUE_NAME),
        flush,
        "app/queues/sqlite.py as a plain SAQ queue (WAL, synchronous=NORMAL)",
    )


class ArqSystem(_InProcess):
    """arq with its defaults (``poll_delay`` 0.5 s, results kept 1 h), worker in this loop."""

    name = "arq"
    notes = "arq defaults: poll_delay 0.5 s, keep_result 3600 s"

    def __init__(self, db: int) -> None:
        self.db = db
        self.timings = Timings()
        self.pool: Any = None
        self.worker: Any = None
        self.task: asyncio.Task[None] | None = None

    def _settings(self) -> Any:
        from arq.connections import RedisSettings

        return RedisSettings(host="127.0.0.1", port=6379, database=self.db)

    async def setup(self) -> None:
        from arq import create_pool

        await flush_redis(self.db)
        self.timings.clear()
        self.pool = await create_pool(self._settings())

    async def enqueue(self, *, sleep: bool) -> str:
        job = await self.pool.enqueue_job("sleep" if sleep else "noop")
        assert job is not None
        return str(job.job_id)

    async def start_workers(self, concurrency: int) -> None:
        from arq.worker import Worker as ArqWorker
        from arq.worker import func

        timings = self.timings

        async def noop(ctx: dict[str, Any]) -> None:
            key = ctx["job_id"]
            timings.started[key] = time.time()
            timings.ended[key] = time.time()

        async def sleep(ctx: dict[str, Any]) -> None:
            key = ctx["job_id"]
            timings.started[key] = time.time()
            await pause()
            timings.ended[key] = time.time()

        self.worker = ArqWorker(
            functions=[func(noop, name="noop"), func(sleep, name="sleep")],
            redis_settings=self._settings(),
            max_jobs=concurrency,
            handle_signals=False,
        )
        self.task = asyncio.create_task(self.worker.async_run())

    async def stop_workers(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.worker is not None:
            # arq's close gathers its job tasks, which the cancel above may have cancelled:
            # their CancelledError is theirs, not ours (ours would still propagate).
            await asyncio.gather(self.worker.close(), return_exceptions=True)
        self.worker = self.task = None

    async def teardown(self) -> None:
        await self.stop_workers()
        if self.pool is not None:
            await self.pool.aclose()
        self.pool = None


class RqSystem(System):
    """RQ with ``SimpleWorker`` (no fork per job) in a child process: one job at a time.

    The default ``Worker`` forks a work-horse per job, 22-36 ms each here (notes/peers.md §5),
    which measures ``fork()``, not the queue; SimpleWorker is RQ's own advice for speed.
    """

    name = "rq"
    notes = "rq.SimpleWorker in a child process; no in-process concurrency (1 job at a time)"
    max_concurrency = 1
    max_sleep_jobs = 20

    def __init__(self, db: int) -> None:
        self.db = db
        self.url = f"{REDIS_BASE_URL}/{db}"
        self.queue: Any = None
        self.record = Path(tempfile.mkstemp(prefix="bench-rq-", suffix=".txt")[1])
        self.process: subprocess.Popen[bytes] | None = None

    async def setup(self) -> None:
        from redis import Redis
        from rq import Queue as RqQueue

        await flush_redis(self.db)
        self.record.write_text("")
        self.queue = RqQueue(QUEUE_NAME, connection=Redis.from_url(self.url))

    async def enqueue(self, *, sleep: bool) -> str:
        # RQ's client is synchronous: a FastAPI handler would call it like this (or in a thread).
        name = "bench.peers.jobs.rq_sleep" if sleep else "bench.peers.jobs.rq_noop"
        return str(self.queue.enqueue(name).id)

    async def start_workers(self, concurrency: int) -> None:
        rq = str(Path(sys.executable).with_name("rq"))
        env = {**os.environ, RECORD_ENV: str(self.record)}
        command = [rq, "worker", "-w", "rq.worker.SimpleWorker", "-u", self.url, "-P", str(ROOT)]
        self.process = subprocess.Popen(
            [*command, "-q", "--logging_level", "WARNING", QUEUE_NAME],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def stop_workers(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)  # warm shutdown: ends after the current job
        try:
            await asyncio.to_thread(self.process.wait, 10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    async def spans(self) -> dict[str, tuple[float, float]]:
        return read_record(self.record)

    async def teardown(self) -> None:
        await self.stop_workers()
        if self.queue is not None:
            self.queue.connection.close()
        self.queue = None
        self.record.unlink(missing_ok=True)
