"""Event streams woken together read their events together (``JobService.events_after``).

A commit wakes every user it touched, and each of their streams asks for the events after the
last one it sent. Asked in the same loop iteration, those reads are one transaction on one
reader thread: here on a real SQLite file, counting the reads the database is asked for."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from app.lifespan import build
from app.models import JobEvent
from app.settings import Settings


class CountingReads:
    """Wraps a database's ``read``: counts calls, and fails the next one when told to."""

    def __init__(self, read: Callable[..., Any]) -> None:
        self.inner = read
        self.calls = 0
        self.fail_next = False

    async def __call__(self, query: Any) -> Any:
        self.calls += 1
        if self.fail_next:
            self.fail_next = False
            raise OSError("disk I/O error")
        return await self.inner(query)


async def new_user(container: Any) -> Any:
    user, _token = await container.auth.create_user(f"{uuid.uuid4().hex[:8]}@example.com")
    return user


async def test_streams_asking_together_share_one_read_and_each_gets_its_own_events(
    make_settings: Callable[..., Settings],
) -> None:
    async with build(make_settings()) as container:
        jobs = container.jobs
        users = [await new_user(container) for _ in range(3)]
        submitted = {
            user.id: [(await jobs.submit(user.id, "diagnostic.echo", {})).id for _ in range(3)]
            for user in users
        }
        first, second, third = (user.id for user in users)
        await jobs.cancel(first, submitted[first][1])
        middle = (await jobs.events_after(first, 0))[1].id
        wanted = [
            (first, 0, None),
            (first, middle, None),  # a stream that already sent two events
            (second, 0, None),
            (second, 0, None),  # a second tab of the same user
            (third, 0, submitted[third][2]),  # a job's own page
            (first, 10**9, None),  # nothing new yet
        ]
        reads = CountingReads(container.db.read)
        container.db.read = reads  # type: ignore[method-assign]

        answers = await asyncio.gather(*(jobs.events_after(*key) for key in wanted))

        assert reads.calls == 1

        def plain(connection: Any, user_id: uuid.UUID, after: int, job_id: Any) -> list[Any]:
            """The same read through SQLAlchemy's own query path (``store.events_after`` runs
            a prepared statement on the driver)."""
            query = select(JobEvent).where(JobEvent.user_id == user_id, JobEvent.id > after)
            if job_id is not None:
                query = query.where(JobEvent.job_id == job_id)
            return list(connection.execute(query.order_by(JobEvent.id).limit(200)).all())

        alone = await reads.inner(lambda c: [plain(c, *key) for key in wanted])
        assert [[tuple(row) for row in rows] for rows in answers] == [
            [tuple(row) for row in rows] for rows in alone
        ]
        assert [len(rows) for rows in answers] == [4, 2, 3, 3, 1, 0]  # 3 submits + 1 cancel
        assert {row.user_id for row in answers[2]} == {second}
        assert [row.job_id for row in answers[4]] == [submitted[third][2]]


async def test_one_stream_giving_up_does_not_cancel_the_read_of_the_others(
    make_settings: Callable[..., Settings],
) -> None:
    async with build(make_settings()) as container:
        jobs = container.jobs
        user = await new_user(container)
        job = await jobs.submit(user.id, "diagnostic.echo", {})

        leaving = asyncio.ensure_future(jobs.events_after(user.id, 0))
        staying = asyncio.ensure_future(jobs.events_after(user.id, 0, job.id))
        await asyncio.sleep(0)  # both asked in this iteration; the read is on its way
        leaving.cancel()

        rows = await staying
        assert [(row.job_id, row.type) for row in rows] == [(job.id, "created")]
        with pytest.raises(asyncio.CancelledError):
            await leaving


async def test_a_failed_read_fails_the_streams_that_shared_it_and_the_next_read_works(
    make_settings: Callable[..., Settings],
) -> None:
    async with build(make_settings()) as container:
        jobs = container.jobs
        user = await new_user(container)
        await jobs.submit(user.id, "diagnostic.echo", {})
        reads = CountingReads(container.db.read)
        container.db.read = reads  # type: ignore[method-assign]
        reads.fail_next = True

        failed = await asyncio.gather(
            jobs.events_after(user.id, 0), jobs.events_after(user.id, 5), return_exceptions=True
        )
        assert [type(outcome) for outcome in failed] == [OSError, OSError]

        rows = await jobs.events_after(user.id, 0)
        assert [row.type for row in rows] == ["created"]
        assert reads.calls == 2
