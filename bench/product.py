"""The whole product, built in-process as the tests build it, served by a real uvicorn server.

One round: a fresh data dir, ``create_app(settings)`` under uvicorn on 127.0.0.1 (lifespan on:
migrations, queues, workers, recovery), a user, and a real SSE client in another process
(``bench.sse_client``) listening on ``GET /api/jobs/events``. Jobs go through the service path
(``JobService.submit``: row + event + commit + enqueue), the same call the HTTP routes make.

Submit → start is ``started_at - created_at`` of each row; a job is done at its ``completed_at``
(taken when the task returned, as for raw SAQ). SSE delivery is ``received - job.updatedAt`` per
message, measured in the client process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import select

from app.main import create_app
from app.models import BackgroundJob
from app.settings import Settings
from bench.common import (
    CONCURRENCY,
    REDIS_BASE_URL,
    RoundResult,
    Workload,
    delete_saq_keys,
    paced,
    wait_until,
)

PRODUCT_QUEUES = ("high", "default", "low")
JOB_TYPE = "diagnostic.echo"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[tuple[Any, str]]:
    """The app under a real uvicorn server in this event loop: yields (app, base_url)."""
    app = create_app(settings)
    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise RuntimeError("uvicorn stopped before it started")
            if time.monotonic() > deadline:
                raise TimeoutError("uvicorn did not start within 60 s")
            await asyncio.sleep(0.02)
        yield app, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 60)


class _SSEClient:
    """``bench.sse_client`` in a child process."""

    def __init__(self, base_url: str, token: str, expected_completed: int, out: Path) -> None:
        self.args = [base_url, token, str(expected_completed), str(out)]
        self.out = out
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.sse_client", *self.args, stdout=asyncio.subprocess.PIPE
        )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 30)
        if line.strip() != b"ready":
            raise RuntimeError(f"SSE client did not connect (said {line!r})")

    async def finish(self, timeout_s: float) -> list[tuple[str, str, float]]:
        assert self.proc is not None
        try:
            await asyncio.wait_for(self.proc.wait(), timeout_s)
        except TimeoutError:
            self.proc.send_signal(signal.SIGINT)  # it writes what it has, then exits
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if not self.out.exists():
            return []
        return [tuple(row) for row in json.loads(self.out.read_text())]  # type: ignore[misc]


async def run_round(
    workload: Workload,
    *,
    scenario: str,
    queue_url: str | None,
    redis_db: int | None,
    round_no: int,
    warmup: bool,
    with_sse: bool = True,
) -> RoundResult:
    setup_began = time.perf_counter()
    result = RoundResult(scenario, round_no, warmup, workload.jobs)
    with tempfile.TemporaryDirectory(prefix="atspro-bench-") as tmp:
        settings = Settings(
            data_dir=Path(tmp) / "data",
            queue_url=queue_url,
            database_url=None,
            redis_url=None,
            progress_event_interval_s=0,
            log_level="warning",
            concurrency_default=CONCURRENCY,
        )
        try:
            async with serve(settings) as (app, base_url):
                await _measure(app, base_url, Path(tmp), workload, result, setup_began, with_sse)
        finally:
            if redis_db is not None:
                result.extra["keys_deleted"] = await delete_saq_keys(redis_db, PRODUCT_QUEUES)
    return result


async def _measure(
    app: Any,
    base_url: str,
    tmp: Path,
    workload: Workload,
    result: RoundResult,
    setup_began: float,
    with_sse: bool,
) -> None:
    container = app.state.container
    jobs = container.jobs
    user, token = await container.auth.create_user(f"bench-{uuid.uuid4().hex[:12]}@example.com")
    db = container.db  # reads never take SQLite's write lock

    sse: _SSEClient | None = None
    if with_sse:
        sse = _SSEClient(base_url, token, workload.jobs + workload.paced_jobs, tmp / "sse.json")
        await sse.start()

        async def subscribed() -> bool:
            return bool(container.bus.subscriber_count >= 1)

        await wait_until(subscribed, 30, "the SSE stream to subscribe")
        await asyncio.sleep(0.2)  # past its initial snapshot query
    result.setup_s = time.perf_counter() - setup_began

    # The app's own count of committed completions, not a count of the table's rows: polled
    # every few ms, that query was work inside the process being measured (bench/peers).
    completed_before = container.metrics.count("completed", JOB_TYPE)

    async def completed_count() -> int:
        return int(container.metrics.count("completed", JOB_TYPE) - completed_before)

    # Burst.
    burst_ids: list[uuid.UUID] = []
    result.submit_started = time.time()
    for _ in range(workload.jobs):
        job = await jobs.submit(user.id, JOB_TYPE, {}, priority=5)
        burst_ids.append(job.id)
    result.submit_ended = time.time()

    async def drained() -> bool:
        return await completed_count() >= workload.jobs

    await wait_until(drained, workload.timeout_s, f"{workload.jobs} jobs to complete")

    # Paced.
    paced_ids: list[uuid.UUID] = []

    async def submit(_i: int) -> None:
        job = await jobs.submit(user.id, JOB_TYPE, {}, priority=5)
        paced_ids.append(job.id)

    result.paced_submit_s = await paced(workload.paced_jobs, workload.paced_rate, submit)

    async def paced_done() -> bool:
        return await completed_count() >= workload.jobs + workload.paced_jobs

    await wait_until(paced_done, workload.timeout_s, "paced jobs to complete")

    timings = select(
        BackgroundJob.id,
        BackgroundJob.created_at,
        BackgroundJob.started_at,
        BackgroundJob.completed_at,
    ).where(BackgroundJob.user_id == user.id)
    rows = await db.read(lambda conn: conn.execute(timings).all())
    by_id = {row.id: row for row in rows}

    def start_ms(job_id: uuid.UUID) -> float:
        row = by_id[job_id]
        return (row.started_at - row.created_at).total_seconds() * 1000

    result.completed = [by_id[i].completed_at.timestamp() for i in burst_ids]
    result.start_ms = [start_ms(i) for i in burst_ids]
    result.paced_start_ms = [start_ms(i) for i in paced_ids]

    if sse is not None:
        records = await sse.finish(timeout_s=60)
        burst = {str(i) for i in burst_ids}
        paced_set = {str(i) for i in paced_ids}
        result.sse_ms = [ms for job_id, _type, ms in records if job_id in burst]
        result.paced_sse_ms = [ms for job_id, _type, ms in records if job_id in paced_set]
        result.sse_events = len(records)
        result.sse_expected = 3 * (workload.jobs + workload.paced_jobs)  # created, started, done


def sqlite_scenario() -> dict[str, Any]:
    return {"scenario": "atspro-sqlite", "queue_url": None, "redis_db": None}


def redis_scenario(db: int) -> dict[str, Any]:
    return {"scenario": "atspro-redis", "queue_url": f"{REDIS_BASE_URL}/{db}", "redis_db": db}
