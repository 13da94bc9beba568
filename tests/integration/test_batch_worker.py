"""The SQLite default's BatchWorker: jobs claimed and started in groups, slots honoured, queue
entries finished behind the jobs, and one job that cannot start does not hold up the others."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import anyio
import pytest
from saq.job import Job
from sqlalchemy import text

from app.jobs import batch_worker
from app.jobs.batch_worker import BatchWorker
from app.lifespan import build
from app.settings import Settings
from tests.conftest import LiveApp, _serve


async def _submit(
    settings: Settings, count: int, seconds: float
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """Jobs submitted with no worker running (as after a restart with a backlog)."""
    async with build(settings) as container:
        user, _token = await container.auth.create_user(f"batch-{uuid.uuid4().hex[:8]}@x.io")
        ids = [
            (await container.jobs.submit(user.id, "diagnostic.echo", {"seconds": seconds})).id
            for _ in range(count)
        ]
    return user.id, ids


async def _statuses(live: LiveApp, user_id: uuid.UUID, ids: list[uuid.UUID]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for job_id in ids:
        status = (await live.container.jobs.get(user_id, job_id)).status
        counts[status] = counts.get(status, 0) + 1
    return counts


async def test_a_backlog_runs_in_groups_within_the_slots(
    make_settings: Callable[..., Settings],
) -> None:
    """Nine 0.3 s jobs on three slots: never more than three run at once, all three slots are
    used, each job starts once and completes, and every queue entry ends complete."""
    settings = make_settings(concurrency_default=3)
    user_id, ids = await _submit(settings, 9, 0.3)
    most_running = 0
    async for live in _serve(settings):
        (worker,) = [w for w in live.container.workers if w.name == "default"]
        assert isinstance(worker, BatchWorker)
        with anyio.fail_after(30):
            while (counts := await _statuses(live, user_id, ids)).get("completed", 0) < len(ids):
                most_running = max(most_running, len(live.container.jobs.running))
                await anyio.sleep(0.02)
        assert counts == {"completed": len(ids)}
        for job_id in ids:
            job = await live.container.jobs.get(user_id, job_id)
            assert (job.attempt, job.retry_count) == (1, 0)
        queue = live.container.queues["default"]
        with anyio.fail_after(10):
            while await queue.count("incomplete"):
                await anyio.sleep(0.05)
        entries = await queue.jobs(str(job_id) for job_id in ids)
        assert {entry.status.value for entry in entries if entry is not None} == {"complete"}
    assert 2 <= most_running <= 3


async def test_a_job_that_cannot_start_does_not_hold_up_its_group(
    make_settings: Callable[..., Settings],
) -> None:
    """A row whose stored input is not JSON makes its start raise; it is claimed in a group with
    good jobs, which still start and complete (each job is then started on its own)."""
    settings = make_settings(concurrency_default=4)
    user_id, ids = await _submit(settings, 4, 0)
    poison = ids[1]
    async with build(settings) as container:
        await container.db.write(
            lambda c: c.execute(
                text("UPDATE background_jobs SET input_data = '{broken' WHERE id = :id"),
                {"id": poison.hex},
            )
        )
    good = [job_id for job_id in ids if job_id != poison]
    async for live in _serve(settings):
        with anyio.fail_after(30):
            while (await _statuses(live, user_id, good)).get("completed", 0) < len(good):
                await anyio.sleep(0.05)
        status = await live.container.db.read(
            lambda c: c.scalar(
                text("SELECT status FROM background_jobs WHERE id = :id"), {"id": poison.hex}
            )
        )
        assert status == "pending"  # never started: it cannot be read


async def _wait_running(live: LiveApp, count: int) -> None:
    with anyio.fail_after(15):
        while len(live.container.jobs.running) < count:
            await anyio.sleep(0.02)


def _claim_ahead_now(worker: BatchWorker) -> None:
    """As if the recent jobs had been quick: the worker claims the next group ahead."""
    worker._run_s = 0.0
    worker._slot_freed.set()  # the pump waits for a slot: let it look again


async def _queue_status(live: LiveApp, ids: list[uuid.UUID]) -> list[str]:
    entries = await live.container.queues["default"].jobs(str(job_id) for job_id in ids)
    return [entry.status.value if entry is not None else "missing" for entry in entries]


def _watched(
    worker: BatchWorker, ahead: list[bool]
) -> Callable[[int, float], Awaitable[list[Job]]]:
    """The worker's ``dequeue_many``, noting for each claim whether it was made ahead."""
    dequeue_many = worker.sqlite_queue.dequeue_many

    async def watched(wanted: int, timeout: float) -> list[Job]:
        ahead.append(asyncio.current_task() is worker._claiming_ahead)
        return await dequeue_many(wanted, timeout)

    return watched


async def test_quick_jobs_are_claimed_ahead_and_each_runs_once(
    make_settings: Callable[..., Settings],
) -> None:
    """Sixty quick jobs on three slots: the worker claims groups ahead of free slots, and every
    job still starts once, completes, and leaves a complete queue entry."""
    settings = make_settings(concurrency_default=3)
    user_id, ids = await _submit(settings, 60, 0)
    ahead: list[bool] = []  # for each claim: made ahead of free slots?
    async for live in _serve(settings):
        (worker,) = [w for w in live.container.workers if w.name == "default"]
        worker.sqlite_queue.dequeue_many = _watched(worker, ahead)  # type: ignore[method-assign]
        with anyio.fail_after(60):
            while (counts := await _statuses(live, user_id, ids)).get("completed", 0) < len(ids):
                await anyio.sleep(0.05)
        assert counts == {"completed": len(ids)}
        for job_id in ids:
            job = await live.container.jobs.get(user_id, job_id)
            assert (job.attempt, job.retry_count) == (1, 0)
        with anyio.fail_after(10):
            while set(await _queue_status(live, ids)) != {"complete"}:
                await anyio.sleep(0.05)
    assert any(ahead)


async def test_jobs_claimed_ahead_go_back_when_the_slots_stay_busy(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two slots busy with 2 s jobs and two jobs claimed ahead: after the hold limit those two
    go back to the queue (no attempt spent), and the worker stops claiming ahead; all four then
    run once."""
    monkeypatch.setattr(batch_worker, "HOLD_MAX_S", 0.3)
    settings = make_settings(concurrency_default=2)
    user_id, slow = await _submit(settings, 2, 2.0)
    async with build(settings) as container:  # submitted after the slow ones: claimed later
        quick = [(await container.jobs.submit(user_id, "diagnostic.echo", {})).id for _ in range(2)]
    async for live in _serve(settings):
        (worker,) = [w for w in live.container.workers if w.name == "default"]
        await _wait_running(live, 2)
        _claim_ahead_now(worker)
        with anyio.fail_after(5):
            while len(worker._ready) < 2:
                await anyio.sleep(0.01)
        assert await _queue_status(live, quick) == ["active", "active"]
        with anyio.fail_after(5):
            while worker._ready:
                await anyio.sleep(0.01)
        assert worker._run_s == batch_worker.HOLD_MAX_S  # no more claiming ahead for now
        with anyio.fail_after(1):  # the slow jobs still run meanwhile
            while await _queue_status(live, quick) != ["queued", "queued"]:
                await anyio.sleep(0.01)
        for job_id in quick:
            job = await live.container.jobs.get(user_id, job_id)
            assert (job.status, job.attempt) == ("pending", 0)
        with anyio.fail_after(30):
            while (await _statuses(live, user_id, slow + quick)).get("completed", 0) < 4:
                await anyio.sleep(0.05)
        for job_id in slow + quick:
            job = await live.container.jobs.get(user_id, job_id)
            assert (job.attempt, job.retry_count) == (1, 0)


async def test_stopping_gives_back_the_jobs_claimed_ahead(
    make_settings: Callable[..., Settings],
) -> None:
    """A worker stopped while it holds jobs claimed ahead puts them back on the queue, unstarted
    and without an attempt spent; the next start runs them."""
    settings = make_settings(concurrency_default=1, shutdown_grace_s=0.5)
    user_id, slow = await _submit(settings, 1, 3.0)
    async with build(settings) as container:
        quick = [(await container.jobs.submit(user_id, "diagnostic.echo", {})).id]
    async for live in _serve(settings):
        (worker,) = [w for w in live.container.workers if w.name == "default"]
        await _wait_running(live, 1)
        _claim_ahead_now(worker)
        with anyio.fail_after(5):
            while not worker._ready:
                await anyio.sleep(0.01)
    async with build(settings) as container:  # no workers: as the first run left them
        (entry,) = await container.queues["default"].jobs([str(quick[0])])
        assert entry is not None
        assert entry.status.value == "queued"
        job = await container.jobs.get(user_id, quick[0])
        assert (job.status, job.attempt) == ("pending", 0)
    async for live in _serve(settings):
        with anyio.fail_after(30):
            while (await _statuses(live, user_id, slow + quick)).get("completed", 0) < 2:
                await anyio.sleep(0.05)
        job = await live.container.jobs.get(user_id, quick[0])
        assert (job.attempt, job.retry_count) == (1, 0)
