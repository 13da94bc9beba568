"""Starting a group of jobs in one statement (SQLite, ``JobService.start_many``) decides each job
as starting it alone would: pending jobs start, a cancelled one and one running elsewhere on a
live lease do not, one running on an expired lease is taken over with a stall counted."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select, text

from app.db import utcnow
from app.lifespan import build
from app.models import JobAttempt, JobEvent
from app.settings import Settings


async def test_a_group_start_decides_each_job_as_a_single_start_would(
    make_settings: Callable[..., Settings],
) -> None:
    async with build(make_settings()) as container:
        jobs = container.jobs
        user, _token = await container.auth.create_user(f"{uuid.uuid4().hex[:8]}@example.com")
        pending, cancelled, elsewhere, expired, last = [
            (await jobs.submit(user.id, "diagnostic.echo", {})).id for _ in range(5)
        ]
        await jobs.cancel(user.id, cancelled)
        await jobs.start(elsewhere, worker_id="other/1")
        await jobs.start(expired, worker_id="other/2")
        past = (utcnow() - timedelta(minutes=5)).replace(tzinfo=None).isoformat(" ")
        await container.db.write(
            lambda c: c.execute(
                text("UPDATE background_jobs SET lease_expires_at = :t WHERE id = :id"),
                {"t": past, "id": expired.hex},
            )
        )

        group = [pending, cancelled, elsewhere, expired, last]
        started = await jobs.start_many(group, worker_id="me/1")

        assert started[1] is None  # cancelled
        assert started[2] is None  # running elsewhere, lease still live
        for index in (0, 3, 4):
            job = started[index]
            assert job is not None
            assert (job.id, job.status, job.worker_id) == (group[index], "running", "me/1")
        assert (started[0].attempt, started[4].attempt) == (1, 1)
        assert (started[3].attempt, started[3].stall_count) == (2, 1)  # taken over

        def attempts_and_events(c):  # type: ignore[no-untyped-def]
            opened = c.execute(
                select(JobAttempt.job_id, JobAttempt.attempt, JobAttempt.outcome).where(
                    JobAttempt.worker_id == "me/1"
                )
            ).all()
            starts = c.execute(
                select(JobEvent.job_id, func.count())
                .where(JobEvent.type == "started", JobEvent.job_id.in_(group))
                .group_by(JobEvent.job_id)
            ).all()
            return sorted(opened), dict(starts)

        opened, starts = await container.db.read(attempts_and_events)
        assert opened == sorted(
            [(pending, 1, "running"), (expired, 2, "running"), (last, 1, "running")]
        )
        # One start event per start: ours for three, the other workers' for two.
        assert starts == {pending: 1, elsewhere: 1, expired: 2, last: 1}
