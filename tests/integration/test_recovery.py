"""Recovery: the reconciler and the reaper bring back jobs a crash left behind."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import anyio
from sqlalchemy import insert, update

from app.db import utcnow
from app.jobs.status import JobStatus
from app.jobs.store import jobs
from tests.conftest import LiveApp


async def orphan(live: LiveApp, user_id: uuid.UUID, **fields: Any) -> uuid.UUID:
    """A job row written without its queue entry, as a crash would leave it."""
    a_minute_ago = utcnow() - timedelta(minutes=1)
    values = {
        "id": uuid.uuid4(),
        "user_id": user_id,
        "job_type": "diagnostic.echo",
        "queue": "default",
        "priority": 5,
        "input_data": {"echo": "orphan"},
        "max_retries": 3,
        "created_at": a_minute_ago,
        "updated_at": a_minute_ago,
        "status": JobStatus.PENDING.value,
        "attempt": 0,
        "stall_count": 0,
        **fields,
    }
    await live.container.db.write(lambda c: c.execute(insert(jobs).values(**values)))
    return values["id"]


async def wait_status(live: LiveApp, user_id: uuid.UUID, job_id: uuid.UUID, status: str) -> Any:
    with anyio.fail_after(30):
        while True:
            job = await live.container.jobs.get(user_id, job_id)
            if job.status == status:
                return job
            await anyio.sleep(0.05)


async def test_reconciler_enqueues_pending_rows_missing_from_the_queue(live: LiveApp) -> None:
    """R8: A pending row that never reached the queue is enqueued by the reconciler and
    completes."""
    user, _ = await live.container.auth.create_user("reconcile@example.com")
    job_id = await orphan(live, user.id)
    assert await live.container.queues["default"].job(str(job_id)) is None
    assert await live.container.jobs.reconcile(older_than_s=0) == 1
    done = await wait_status(live, user.id, job_id, "completed")
    assert done.result_data["echo"] == "orphan"
    assert await live.container.jobs.reconcile(older_than_s=0) == 0


async def test_reaper_requeues_a_job_whose_worker_stopped(live: LiveApp) -> None:
    """R1: A running row whose lease expired goes back to the queue without spending a retry."""
    user, _ = await live.container.auth.create_user("reaper@example.com")
    expired = utcnow() - timedelta(seconds=30)
    job_id = await orphan(
        live, user.id, status=JobStatus.RUNNING.value, attempt=1, lease_expires_at=expired
    )
    done = await wait_status(live, user.id, job_id, "completed")
    assert done.stall_count == 1
    assert done.retry_count == 0
    assert done.attempt == 2


async def test_a_job_that_keeps_killing_its_worker_is_failed(live: LiveApp) -> None:
    """R5: After max_stalls lost workers the reaper fails the job instead of looping forever."""
    user, _ = await live.container.auth.create_user("poison@example.com")
    stalls = live.container.settings.max_stalls - 1
    expired = utcnow() - timedelta(seconds=30)
    job_id = await orphan(
        live,
        user.id,
        status=JobStatus.RUNNING.value,
        attempt=stalls + 1,
        stall_count=stalls,
        lease_expires_at=expired,
    )
    failed = await wait_status(live, user.id, job_id, "failed")
    assert failed.error_kind == "internal"
    assert "stopped its worker" in failed.error_message
    events = await live.container.jobs.events_after(user.id, 0, job_id)
    assert [event.type for event in events] == ["failed"]


async def test_fenced_writes_from_an_old_attempt_are_ignored(live: LiveApp) -> None:
    """R15: A worker still writing for attempt 1 after attempt 2 began changes nothing."""
    jobs = live.container.jobs
    user, _ = await live.container.auth.create_user("fence@example.com")
    job = await jobs.submit(user.id, "diagnostic.echo", {"seconds": 3, "steps": 3})
    running = await wait_status(live, user.id, job.id, "running")
    stale = running.attempt - 1 if running.attempt > 1 else running.attempt + 5
    assert await jobs.complete(job.id, stale, {"echo": "stale"}) is None
    assert not await jobs.progress(job.id, stale, 99, "stale", now_s=0)
    assert not await jobs.renew_lease(job.id, stale)
    current = await jobs.get(user.id, job.id)
    assert current.status == "running"
    assert current.result_data is None
    await jobs.cancel(user.id, job.id)


async def test_the_lease_keeper_renews_every_running_job_and_stops_one_taken_over(
    live: LiveApp,
) -> None:
    """R15: One keeper per process renews all its jobs' leases; a job whose attempt moved on
    (taken over by another worker) is not renewed and its task here is cancelled."""
    jobs_service = live.container.jobs
    user, _ = await live.container.auth.create_user("leases@example.com")
    kept = [
        await jobs_service.submit(user.id, "diagnostic.echo", {"seconds": 6, "steps": 1})
        for _ in range(3)
    ]
    lost = await jobs_service.submit(user.id, "diagnostic.echo", {"seconds": 6, "steps": 1})
    started = {job.id: await wait_status(live, user.id, job.id, "running") for job in [*kept, lost]}
    with anyio.fail_after(10):
        while len(jobs_service.running) < 4:
            await anyio.sleep(0.05)

    taken = started[lost.id].attempt + 1  # another worker's attempt now owns the row
    await live.container.db.write(
        lambda c: c.execute(update(jobs).where(jobs.c.id == lost.id).values(attempt=taken))
    )
    lease_s = live.container.settings.lease_s
    with anyio.fail_after(lease_s * 3):
        while lost.id in dict(jobs_service.running.attempts()):
            await anyio.sleep(0.05)

    for job in kept:
        now = await jobs_service.get(user.id, job.id)
        assert now.status == "running"
        assert now.lease_expires_at > started[job.id].lease_expires_at  # renewed
    assert (await jobs_service.get(user.id, lost.id)).attempt == taken  # left to its new owner
    for job in [*kept, lost]:
        await jobs_service.cancel(user.id, job.id)
