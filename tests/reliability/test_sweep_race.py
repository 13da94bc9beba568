"""R7: the sweep racing the dequeue. SAQ's Redis queue moves a job to the active list before its
worker marks it active, and a sweep in that window takes it for stuck (tobymao/saq#124, #277).
Our queues, swept every second (SAQ's shortest timer) by two workers at once, must still run
each of 1,000 short jobs exactly once and sweep none of them."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest
from saq import Worker
from saq.job import Status

from app.queues.factory import make_queue
from tests.reliability.redis_server import RedisServer

JOBS = 1000


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
@pytest.mark.timeout(180)
async def test_frequent_sweeps_never_take_a_just_claimed_job(
    backend: str, tmp_path: Path, redis_server: RedisServer
) -> None:
    """R7: 1,000 short jobs through two workers (two queue instances, ten slots each) sweeping
    every second: every job runs exactly once, completes on its first attempt, and the sweeps
    record no job as swept or aborted."""
    url = f"sqlite:///{tmp_path / 'queue.db'}" if backend == "sqlite" else redis_server.url
    name = f"race{uuid.uuid4().hex[:8]}"
    queues = [make_queue(url, name) for _ in range(2)]
    for queue in queues:
        await queue.connect()
    runs: Counter[str] = Counter()
    done = anyio.Event()

    async def task(ctx: dict[str, Any]) -> None:
        runs[ctx["job"].key] += 1
        await anyio.sleep(0)  # a checkpoint: a slot yields while "working"
        if sum(runs.values()) >= JOBS:
            done.set()

    workers = [
        Worker(
            queue,
            functions=[("task", task)],
            concurrency=10,
            dequeue_timeout=1,
            timers={"sweep": 1, "schedule": 1, "abort": 1, "worker_info": 1},
        )
        for queue in queues
    ]
    for worker in workers:
        worker.SIGNALS = []
    keys = [f"job-{n}" for n in range(JOBS)]
    async with anyio.create_task_group() as tasks:
        for worker in workers:
            tasks.start_soon(worker.start)
        for key in keys:
            await queues[0].enqueue("task", key=key, timeout=60, retries=3, ttl=0)
        with anyio.fail_after(120):
            await done.wait()
        await anyio.sleep(2.5)  # two more sweeps over the finished queue
        with anyio.CancelScope(shield=True):
            for worker in workers:
                await worker.stop()
        tasks.cancel_scope.cancel()

    assert len(runs) == JOBS
    assert set(runs.values()) == {1}, [key for key, n in runs.items() if n > 1][:10]
    finished = await queues[0].jobs(keys)
    assert all(job is not None for job in finished)
    assert {job.status for job in finished if job} == {Status.COMPLETE}
    assert {job.attempts for job in finished if job} == {1}
    assert not [job.error for job in finished if job and job.error]
    for queue in queues:
        await queue.disconnect()


async def test_a_claimed_job_whose_worker_died_is_still_swept(redis_server: RedisServer) -> None:
    """R7's other half: the grace for just-claimed jobs does not strand a job whose worker died
    between the claim and marking it active. The first sweep leaves it, the next one puts it
    back on the queue, and it can be claimed again."""
    queue = make_queue(redis_server.url, f"dead{uuid.uuid4().hex[:8]}")
    await queue.connect()
    await queue.enqueue("task", key="orphan", timeout=60, retries=3)
    claimed = await queue.dequeue(timeout=1)  # ... and the worker dies here
    assert claimed is not None
    assert claimed.status == Status.QUEUED
    assert await queue.sweep(lock=1) == []
    await anyio.sleep(1.2)  # the sweep lock expires
    assert await queue.sweep(lock=1) == [claimed.id]
    again = await queue.dequeue(timeout=1)
    assert again is not None
    assert again.key == "orphan"
    await queue.disconnect()
