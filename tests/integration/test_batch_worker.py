"""The SQLite default's BatchWorker: jobs claimed and started in groups, slots honoured, queue
entries finished behind the jobs, and one job that cannot start does not hold up the others."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import anyio
from sqlalchemy import text

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
