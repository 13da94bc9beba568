"""The queue contract every backend (SQLite, Redis, Postgres) must honour for SAQ and our app."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import anyio
import pytest
from saq import Job, Queue, Status
from saq.queue.base import JobError
from saq.utils import now

from app.queues.statuses import statuses
from tests.integration.queues.conftest import (
    Backend,
    QueueFactory,
    Uid,
    background,
    claimer_process,
    running_worker,
    scheduling,
)


async def take(queue: Queue, timeout: float = 5) -> Job:
    """Dequeue a job that must be there."""
    job = await queue.dequeue(timeout=timeout)
    assert job is not None, "expected a job"
    return job


async def activate(job: Job, worker_id: str = "test-worker") -> None:
    """What a Worker does right after claiming a job."""
    job.started = now()
    job.attempts += 1
    job.worker_id = worker_id
    await job.update(status=Status.ACTIVE)


async def stored(queue: Queue, key: str) -> Job:
    job = await queue.job(key)
    assert job is not None, f"job {key} is missing"
    return job


async def wait_for_status(queue: Queue, key: str, status: Status, within: float = 10) -> Job:
    with anyio.fail_after(within):
        while (job := await queue.job(key)) is None or job.status != status:
            await asyncio.sleep(0.05)
    return job


async def test_jobs_come_out_in_enqueue_order(backend: Backend, queue: Queue, uid: Uid) -> None:
    """Jobs of equal priority are dequeued first in, first out."""
    keys = [uid(f"fifo-{i}") for i in range(5)]
    base = int(time.time()) - 10
    for i, key in enumerate(keys):
        # Postgres orders by whole seconds only, so its jobs get distinct (past) times.
        scheduled = base + i if backend.kind == "postgres" else 0
        await queue.enqueue("noop", key=key, scheduled=scheduled)

    assert [(await take(queue)).key for _ in keys] == keys


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_smaller_priority_comes_out_first(open_queue: QueueFactory, uid: Uid) -> None:
    """A smaller ``priority`` is dequeued sooner; ``priorities`` limits what an instance claims."""
    queue = await open_queue()
    for priority in (5, 1, 3, 2):
        await queue.enqueue("noop", key=uid(f"p{priority}"), priority=priority)
    assert [(await take(queue)).key for _ in range(4)] == [uid(p) for p in ("p1", "p2", "p3", "p5")]

    urgent_only = await open_queue(priorities=(0, 2))
    await queue.enqueue("noop", key=uid("p7"), priority=7)
    await queue.enqueue("noop", key=uid("p0"), priority=0)
    assert (await take(urgent_only)).key == uid("p0")
    assert await urgent_only.dequeue(timeout=0.3) is None
    assert (await take(queue)).key == uid("p7")


async def test_scheduled_job_waits_until_due(queue: Queue, uid: Uid) -> None:
    """A job scheduled in the future is not dequeued before its time, and is once it is due."""
    due = int(time.time()) + 2
    await queue.enqueue("noop", key=uid("later"), scheduled=due)

    async with background(scheduling(queue)):
        assert await queue.dequeue(timeout=0.5) is None
        job = await take(queue, timeout=10)

    assert job.key == uid("later")
    assert time.time() >= due


async def test_retry_waits_for_its_delay(queue: Queue, uid: Uid) -> None:
    """A retried job keeps its attempts and comes back only after ``retry_delay``."""
    await queue.enqueue("noop", key=uid("again"), retries=3, retry_delay=1.0)
    job = await take(queue)
    await activate(job)
    await queue.retry(job, "boom")

    requeued = await stored(queue, uid("again"))
    assert (requeued.status, requeued.error, requeued.attempts) == (Status.QUEUED, "boom", 1)
    async with background(scheduling(queue)):
        assert await queue.dequeue(timeout=0.3) is None
        assert (await take(queue, timeout=10)).attempts == 1


async def test_retry_backoff_is_capped(queue: Queue, uid: Uid) -> None:
    """With ``retry_backoff`` as a number, the retry delay never exceeds it."""
    await queue.enqueue("noop", key=uid("capped"), retries=3, retry_delay=60.0, retry_backoff=0.5)
    job = await take(queue)
    await activate(job)
    await queue.retry(job, "boom")

    async with background(scheduling(queue)):
        assert (await take(queue, timeout=10)).key == uid("capped")


async def test_abort_of_a_queued_job_is_immediate(queue: Queue, uid: Uid) -> None:
    """Aborting a queued job marks it aborted at once and it is never dequeued."""
    job = await queue.enqueue("noop", key=uid("unwanted"))
    assert job is not None
    await queue.abort(job, "no longer wanted")

    aborted = await stored(queue, uid("unwanted"))
    assert (aborted.status, aborted.error) == (Status.ABORTED, "no longer wanted")
    assert await queue.dequeue(timeout=0.3) is None


async def test_abort_of_an_active_job_cancels_it_in_the_worker(queue: Queue, uid: Uid) -> None:
    """Aborting a running job makes its Worker cancel the task and record it aborted."""
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def sleeper(_ctx: Any) -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with running_worker(queue, [("sleeper", sleeper)]):
        job = await queue.enqueue("sleeper", key=uid("long"), timeout=0)
        assert job is not None
        await asyncio.wait_for(started.wait(), 10)
        await queue.abort(job, "stop it")
        aborted = await wait_for_status(queue, uid("long"), Status.ABORTED)

    assert cancelled.is_set()
    assert aborted.error == "stop it"


async def test_sweep_handles_jobs_past_their_timeout(queue: Queue, uid: Uid) -> None:
    """R6: The sweep re-queues a stuck retryable job, aborts a stuck final one and spares the
    rest."""
    await queue.enqueue("noop", key=uid("stuck-retry"), timeout=1, retries=2)
    await queue.enqueue("noop", key=uid("stuck-final"), timeout=1, retries=1)
    await queue.enqueue("noop", key=uid("healthy"), timeout=60)
    for _ in range(3):
        await activate(await take(queue))
    await asyncio.sleep(1.3)  # SAQ counts a job stuck once more than `timeout` s have passed

    swept = await queue.sweep(abort=0.1)

    assert sorted(swept) == sorted(queue.job_id(uid(k)) for k in ("stuck-retry", "stuck-final"))
    retried = await stored(queue, uid("stuck-retry"))
    assert (retried.status, retried.error) == (Status.QUEUED, queue.swept_error_message)
    assert (await stored(queue, uid("stuck-final"))).status == Status.ABORTED
    assert (await stored(queue, uid("healthy"))).status == Status.ACTIVE


async def test_enqueue_is_idempotent_by_key(queue: Queue, uid: Uid) -> None:
    """A key already queued or running is refused with None; a finished key can be reused."""
    assert await queue.enqueue("noop", key=uid("once")) is not None
    assert await queue.enqueue("noop", key=uid("once")) is None
    job = await take(queue)
    await activate(job)
    assert await queue.enqueue("noop", key=uid("once")) is None
    await job.finish(Status.COMPLETE, result=1)

    # Postgres replaces a finished job only with a later `scheduled` (its cron guard).
    again = await queue.enqueue("noop", key=uid("once"), scheduled=int(time.time()) + 1)

    assert again is not None
    assert (await stored(queue, uid("once"))).status == Status.QUEUED


async def test_finish_keeps_the_result_as_long_as_ttl_says(queue: Queue, uid: Uid) -> None:
    """``ttl`` > 0 keeps a finished job until it expires, 0 keeps it, < 0 deletes it at once."""
    for name, ttl in (("keep", 0), ("expire", 1), ("drop", -1)):
        await queue.enqueue("noop", key=uid(name), ttl=ttl)
    for _ in range(3):
        job = await take(queue)
        await activate(job)
        await job.finish(Status.COMPLETE, result={"key": job.key})

    assert await queue.job(uid("drop")) is None
    for name in ("keep", "expire"):
        finished = await stored(queue, uid(name))
        assert (finished.status, finished.result) == (Status.COMPLETE, {"key": uid(name)})

    with anyio.fail_after(10):  # Postgres rounds expiry to whole seconds
        while await queue.job(uid("expire")) is not None:
            await asyncio.sleep(0.2)
            await queue.sweep()
    assert (await stored(queue, uid("keep"))).status == Status.COMPLETE


async def test_count_and_info_describe_the_queue(queue: Queue, uid: Uid) -> None:
    """``count`` and ``info`` report queued, active and scheduled jobs and live workers."""
    await queue.enqueue("noop", key=uid("due-1"))
    await queue.enqueue("noop", key=uid("due-2"))
    await queue.enqueue("noop", key=uid("later"), scheduled=int(time.time()) + 3600)
    await activate(await take(queue))
    worker_id = f"w{uuid.uuid4().hex}"
    await queue.worker_info(worker_id, queue_key=queue.name, metadata={"role": "test"}, ttl=60)

    counts = [await queue.count(kind) for kind in ("queued", "active", "incomplete")]
    info = await queue.info(jobs=True)

    assert counts == [1, 1, 3]
    assert info["name"] == queue.name
    assert (info["queued"], info["active"], info["scheduled"]) == (1, 1, 1)
    assert {job["key"] for job in info["jobs"]} == {uid("due-1"), uid("due-2"), uid("later")}
    worker = info["workers"][worker_id]
    assert worker["metadata"] == {"role": "test"}
    assert worker["stats"] is not None
    assert set(worker["stats"]) == {"complete", "failed", "retried", "aborted", "uptime"}


async def test_iter_jobs_walks_every_job_by_status(queue: Queue, uid: Uid) -> None:
    """``iter_jobs`` pages through all jobs of the queue, filtered by status."""
    keys = {uid(f"it-{i}") for i in range(5)}
    for key in sorted(keys):
        await queue.enqueue("noop", key=key)
    for _ in range(2):
        job = await take(queue)
        await activate(job)
        await job.finish(Status.COMPLETE)

    queued = {job.key async for job in queue.iter_jobs(statuses=[Status.QUEUED], batch_size=2)}
    everything = {job.key async for job in queue.iter_jobs(batch_size=2)}

    assert len(queued) == 3
    assert queued < keys
    assert everything == keys


async def test_statuses_say_what_the_queue_holds_for_each_key(queue: Queue, uid: Uid) -> None:
    """``app.queues.statuses`` (the reconciler's lookup) gives each key's status as the job's
    own record reads, and None for a key the queue does not hold (never enqueued, deleted)."""
    names = ("active", "done", "gone", "queued")
    for name in names[:3]:
        await queue.enqueue("noop", key=uid(name), ttl=-1 if name == "gone" else 600)
    for _ in range(3):
        job = await take(queue)
        await activate(job)
        if job.key != uid("active"):
            await job.finish(Status.COMPLETE)
    await queue.enqueue("noop", key=uid("queued"))
    keys = [uid(name) for name in (*names, "never")]

    found = await statuses(queue, keys)

    assert found == [Status.ACTIVE, Status.COMPLETE, None, Status.QUEUED, None]
    assert found == [None if job is None else job.status for job in await queue.jobs(keys)]
    assert await statuses(queue, []) == []


async def test_apply_and_refresh_wait_for_a_real_worker(queue: Queue) -> None:
    """``apply`` and ``refresh(until_complete)`` wait for a real Worker; failures raise."""

    async def add(_ctx: Any, a: int, b: int) -> int:
        return a + b

    async def fail(_ctx: Any) -> None:
        raise ValueError("nope")

    async with running_worker(queue, [("add", add), ("fail", fail)]):
        assert await queue.apply("add", a=1, b=2, timeout=10) == 3

        job = await queue.enqueue("add", a=2, b=3)
        assert job is not None
        await job.refresh(until_complete=10)
        assert (job.status, job.result) == (Status.COMPLETE, 5)

        with pytest.raises(JobError):
            await queue.apply("fail", timeout=10)


async def test_a_failing_job_is_retried_by_a_real_worker(queue: Queue) -> None:
    """A job that raises is retried while attempts remain and then completes."""
    calls: list[int] = []

    async def flaky(_ctx: Any) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first attempt fails")
        return "ok"

    async with running_worker(queue, [("flaky", flaky)]):
        job = await queue.enqueue("flaky", retries=2)
        assert job is not None
        await job.refresh(until_complete=10)

    assert (job.status, job.result, job.attempts) == (Status.COMPLETE, "ok", 2)


async def test_dequeue_returns_none_after_its_timeout(queue: Queue) -> None:
    """A dequeue on an empty queue gives up with None after its timeout."""
    with anyio.fail_after(5):
        assert await queue.dequeue(timeout=0.3) is None


async def test_concurrent_dequeuers_claim_each_job_once(open_queue: QueueFactory, uid: Uid) -> None:
    """D2: Many dequeuers on two queue instances in one process get every job exactly once."""
    first, second = await open_queue(), await open_queue()
    keys = [uid(f"c-{i}") for i in range(500)]
    await asyncio.gather(*(first.enqueue("noop", key=key) for key in keys))
    claimed: list[str] = []

    async def consume(queue: Queue) -> None:
        # Not "until None": a Postgres dequeue may time out while jobs wait for the next claim.
        while len(claimed) < len(keys):
            if (job := await queue.dequeue(timeout=0.2)) is not None:
                claimed.append(job.key)

    with anyio.fail_after(60):
        async with background(scheduling(first, 0.05)), background(scheduling(second, 0.05)):
            await asyncio.gather(*(consume(q) for q in (first, second) for _ in range(10)))

    assert sorted(claimed) == sorted(keys)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_processes_claim_each_job_once(backend: Backend, queue: Queue, uid: Uid) -> None:
    """D2: Several OS processes claiming from one SQLite file get every job exactly once."""
    keys = [uid(f"m-{i}") for i in range(2000)]
    await asyncio.gather(*(queue.enqueue("noop", key=key) for key in keys))
    processes = [await claimer_process("claim", backend.url, queue.name) for _ in range(4)]
    try:
        with anyio.fail_after(90):
            for process in processes:
                assert process.stdout is not None
                assert (await process.stdout.readline()).strip() == b"ready"
            for process in processes:  # start together, so they really compete
                assert process.stdin is not None
                process.stdin.write(b"go\n")
                await process.stdin.drain()
            claimed = []
            for process in processes:
                assert process.stdout is not None
                claimed += json.loads(await process.stdout.readline())
                assert await process.wait() == 0
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()

    assert sorted(claimed) == sorted(keys)
