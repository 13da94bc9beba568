"""Raw SAQ on Redis: the yardstick. A no-op function, no job table, no events.

The same shape as the product's default queue: one in-process Worker with concurrency 10 and a
1 s dequeue timeout, one producer enqueueing back to back. Submit → start is the job's own
``queued`` stamp (set by ``Queue.enqueue``) to the moment the function begins; a job is done when
its function returns (the product's ``completed_at`` is taken at the same point).
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from typing import Any

from saq import Worker
from saq.queue.redis import RedisQueue

from bench.common import (
    CONCURRENCY,
    REDIS_BASE_URL,
    RoundResult,
    Workload,
    delete_saq_keys,
    paced,
    wait_until,
)


class _Worker(Worker):  # type: ignore[type-arg]
    SIGNALS: list[signal.Signals] = []  # noqa: RUF012 (as the product's AppWorker: no handlers)


async def run_round(
    workload: Workload, *, redis_db: int, round_no: int, warmup: bool
) -> RoundResult:
    setup_began = time.perf_counter()
    name = f"bench-raw-{uuid.uuid4().hex[:12]}"
    queue = RedisQueue.from_url(f"{REDIS_BASE_URL}/{redis_db}", name=name)
    result = RoundResult("raw-saq-redis", round_no, warmup, workload.jobs)
    started_ms: dict[str, float] = {}
    completed: dict[str, float] = {}
    paced_keys: set[str] = set()

    async def noop(ctx: dict[str, Any]) -> None:
        job = ctx["job"]
        started_ms[job.key] = time.time() * 1000 - job.queued
        completed[job.key] = time.time()

    worker = _Worker(queue, functions=[("noop", noop)], concurrency=CONCURRENCY, dequeue_timeout=1)
    await queue.connect()
    runner = asyncio.create_task(worker.start())
    try:
        await asyncio.sleep(0.05)  # let the worker's slots start waiting
        result.setup_s = time.perf_counter() - setup_began

        # Burst.
        result.submit_started = time.time()
        for _ in range(workload.jobs):
            await queue.enqueue("noop")
        result.submit_ended = time.time()

        async def drained() -> bool:
            return len(completed) >= workload.jobs

        await wait_until(drained, workload.timeout_s, f"{workload.jobs} raw SAQ jobs")
        burst_keys = list(completed)
        result.completed = [completed[key] for key in burst_keys]
        result.start_ms = [started_ms[key] for key in burst_keys]

        # Paced.
        async def submit(_i: int) -> None:
            job = await queue.enqueue("noop")
            assert job is not None
            paced_keys.add(job.key)

        result.paced_submit_s = await paced(workload.paced_jobs, workload.paced_rate, submit)

        async def paced_done() -> bool:
            return len(completed) >= workload.jobs + workload.paced_jobs

        await wait_until(paced_done, workload.timeout_s, "paced raw SAQ jobs")
        result.paced_start_ms = [started_ms[key] for key in paced_keys]
        # Let SAQ write the last jobs' final state before stopping (as the product does).
        await asyncio.sleep(0.05)
    finally:
        await worker.stop()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await queue.disconnect()
        result.extra["keys_deleted"] = await delete_saq_keys(redis_db, [name])
    return result
