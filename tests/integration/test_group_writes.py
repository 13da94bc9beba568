"""A worker's group writes on SQLite decide each job as writing it alone would.

Starting a group in one statement (``JobService.start_many``): pending jobs start, a cancelled
one and one running elsewhere on a live lease do not, one running on an expired lease is taken
over with a stall counted. Completing jobs from the rows their attempts started with
(``store.change_held``) gives the rows as stored, and an attempt that lost its job meanwhile
sends the whole group down the one-by-one path with nothing half-written."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from app.container import Container
from app.db import utcnow
from app.jobs import attempts, store
from app.lifespan import build
from app.models import JobEvent
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
            history = [
                (a.job_id, a.attempt, a.outcome, a.worker_id) for a in attempts.for_jobs(c, group)
            ]
            starts = c.execute(
                select(JobEvent.job_id, func.count())
                .where(JobEvent.type == "started", JobEvent.job_id.in_(group))
                .group_by(JobEvent.job_id)
            ).all()
            return sorted(history), dict(starts)

        history, starts = await container.db.read(attempts_and_events)
        assert history == sorted(
            [
                (pending, 1, "running", "me/1"),
                (elsewhere, 1, "running", "other/1"),
                (expired, 1, "stalled", "other/2"),
                (expired, 2, "running", "me/1"),
                (last, 1, "running", "me/1"),
            ]
        )
        # One start event per start: ours for three, the other workers' for two.
        assert starts == {pending: 1, elsewhere: 1, expired: 2, last: 1}


async def _started_group(container: Container, count: int) -> tuple[uuid.UUID, list[Any]]:
    user, _token = await container.auth.create_user(f"{uuid.uuid4().hex[:8]}@example.com")
    ids = [(await container.jobs.submit(user.id, "diagnostic.echo", {})).id for _ in range(count)]
    started = await container.jobs.start_many(ids, worker_id="me/1")
    return user.id, list(started)


def _count_held_writes(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """One entry per ``change_held`` call: whether it wrote the group."""
    calls: list[bool] = []
    change_held = store.change_held

    def counted(*args: Any, **kwargs: Any) -> Any:
        completed = change_held(*args, **kwargs)
        calls.append(completed is not None)
        return completed

    monkeypatch.setattr(store, "change_held", counted)
    return calls


async def test_completions_made_from_started_rows_equal_the_stored_rows(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three jobs complete together from their started rows, one after a progress update (which
    moved its progress, message, lease and ``updated_at``): each row returned equals the row
    then stored, column for column."""
    calls = _count_held_writes(monkeypatch)
    async with build(make_settings(progress_event_interval_s=0)) as container:
        jobs = container.jobs
        user_id, started = await _started_group(container, 3)
        now_s = 1.0
        assert await jobs.progress(started[1].id, started[1].attempt, 40, "Halfway", now_s=now_s)
        completed = await asyncio.gather(
            *(
                jobs.complete(job.id, job.attempt, {"echo": index}, started=job)
                for index, job in enumerate(started)
            )
        )
        assert calls == [True]  # one statement for the three
        for index, job in enumerate(completed):
            assert job is not None
            stored = await jobs.get(user_id, job.id)
            assert job._asdict() == stored._asdict()
            assert (job.status, job.progress, job.result_data) == (
                "completed",
                100,
                {"echo": index},
            )


async def test_a_lost_attempt_sends_the_group_one_by_one(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One of three jobs is cancelled before its attempt completes: the group write finds it
    gone and changes nothing, then each is written alone: two complete, the cancelled one
    stays cancelled, and only two completion events exist."""
    calls = _count_held_writes(monkeypatch)
    async with build(make_settings()) as container:
        jobs = container.jobs
        user_id, started = await _started_group(container, 3)
        await jobs.cancel(user_id, started[1].id)
        completed = await asyncio.gather(
            *(jobs.complete(job.id, job.attempt, {"echo": 1}, started=job) for job in started)
        )
        assert calls == [False]
        assert [job is not None for job in completed] == [True, False, True]
        statuses = [(await jobs.get(user_id, job.id)).status for job in started]
        assert statuses == ["completed", "cancelled", "completed"]
        events = await container.db.read(
            lambda c: c.scalar(
                select(func.count()).where(
                    JobEvent.type == "completed",
                    JobEvent.job_id.in_([job.id for job in started]),
                )
            )
        )
        assert events == 2


async def test_a_started_row_of_another_attempt_is_refused(
    make_settings: Callable[..., Settings],
) -> None:
    async with build(make_settings()) as container:
        _user_id, (job,) = await _started_group(container, 1)
        with pytest.raises(ValueError, match="another attempt"):
            await container.jobs.complete(job.id, job.attempt + 1, {}, started=job)
