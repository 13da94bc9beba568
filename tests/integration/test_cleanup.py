"""Retention cleanup: exactly what retention says goes (rows, events, links, queue entries,
token usage of past days), entities stay, a dry run deletes nothing, and one process in the
fleet does it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import anyio
import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from sqlalchemy import func, insert, select, update

from app.ai.usage import TokenMeter
from app.budget import TokenBudget, token_usage
from app.container import Container
from app.jobs import store
from app.jobs.cleanup import Cleaner
from app.lifespan import build
from app.models import ResumeEntity
from app.settings import Settings
from tests.conftest import REDIS_URL, LiveApp

REDIS_DB = 10  # this file's own Redis database
CLEANUP_REDIS = REDIS_URL.rsplit("/", 1)[0] + f"/{REDIS_DB}"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
resumes = ResumeEntity.__table__

# (status, days since it finished, deleted with the default retention 30/90/30)
CASES = [
    ("completed", 31, True),
    ("completed", 29, False),
    ("failed", 91, True),
    ("failed", 89, False),
    ("cancelled", 31, True),
    ("cancelled", 5, False),
    ("pending", 400, False),  # never finished: never deleted, however old
    ("running", 400, False),
]


@pytest.fixture(params=["sqlite", "postgres", "postgres+redis-queue"])
def settings(request: pytest.FixtureRequest, make_settings: Callable[..., Settings]) -> Settings:
    """The app tables and queue on each backend: SQLite for both; PostgreSQL for both;
    PostgreSQL tables with a Redis queue."""
    if request.param == "sqlite":
        return make_settings()
    database = request.getfixturevalue("migrated_postgres")
    if request.param == "postgres":
        return make_settings(database_url=database, queue_url=database, auto_migrate=False)
    with SyncRedis.from_url(CLEANUP_REDIS) as redis:
        redis.flushdb()
    return make_settings(database_url=database, queue_url=CLEANUP_REDIS, auto_migrate=False)


async def age_jobs(container: Container) -> dict[str, Any]:
    """One job per case (submitted, so it has an event and a queue entry), then its status and
    timestamps set directly; the first completed one also made a resume (linked)."""
    user, _token = await container.auth.create_user(f"{uuid.uuid4().hex[:8]}@example.com")
    made: dict[str, Any] = {"user_id": user.id, "jobs": {}}
    for status, days, deleted in CASES:
        job = await container.jobs.submit(user.id, "diagnostic.echo", {"echo": status})
        finished = NOW - DAY * days
        values: dict[str, Any] = {"status": status, "created_at": finished, "updated_at": finished}
        if status in ("completed", "failed", "cancelled"):
            values["completed_at"] = finished
        await container.db.write(
            lambda c, job=job, values=values: c.execute(
                update(store.jobs).where(store.jobs.c.id == job.id).values(**values)
            )
        )
        made["jobs"][job.id] = (status, days, deleted, job.queue)
    linked = next(job_id for job_id, case in made["jobs"].items() if case[:2] == ("completed", 31))
    resume_id = uuid.uuid4()

    def make_resume(connection: Any) -> None:
        connection.execute(
            insert(resumes).values(
                id=resume_id, user_id=user.id, filename="cv.txt", sha256="0" * 64, data={}
            )
        )
        store.link_entity(connection, linked, "resume", resume_id, NOW)

    await container.db.write(make_resume)
    made["resume_id"] = resume_id
    return made


async def spend(container: Container, user_id: uuid.UUID, days_ago: list[int]) -> None:
    """Token usage for ``user_id`` on each of those days before NOW's, recorded as jobs do; the
    day's output tokens are its age plus one, so each day's total is told apart."""
    for age in days_ago:
        meter = TokenMeter()
        meter.add(10, age + 1)
        then = NOW - DAY * age
        budget = TokenBudget(container.db, daily_tokens=1000, clock=lambda then=then: then)
        await budget.record(user_id, meter)


async def usage_days(container: Container) -> dict[uuid.UUID, set[date]]:
    rows = await container.db.read(
        lambda c: c.execute(select(token_usage.c.user_id, token_usage.c.day)).all()
    )
    days: dict[uuid.UUID, set[date]] = {}
    for user_id, day in rows:
        days.setdefault(user_id, set()).add(day)
    return days


async def table_counts(container: Container, job_ids: list[uuid.UUID]) -> dict[str, int]:
    def count(connection: Any) -> dict[str, int]:
        return {
            "jobs": connection.execute(
                select(func.count()).where(store.jobs.c.id.in_(job_ids))
            ).scalar_one(),
            **store.dependents(connection, job_ids),
        }

    return await container.db.read(count)


async def test_cleanup_deletes_exactly_what_retention_says(settings: Settings) -> None:
    """Jobs of each status at ages either side of its retention: a dry run reports the three
    that are due and deletes nothing; the real pass deletes those three with their events,
    entity links and queue entries, and keeps every other job, its queue entry and the resume."""
    async with build(settings) as container:
        made = await age_jobs(container)
        job_ids = list(made["jobs"])
        due = [job_id for job_id, case in made["jobs"].items() if case[2]]
        cleaner = Cleaner(
            db=container.db, queues=container.queues, settings=settings, clock=lambda: NOW
        )

        before = await table_counts(container, job_ids)
        dry = await cleaner.run(dry_run=True)
        assert dry.jobs == {"completed": 1, "failed": 1, "cancelled": 1}
        assert (dry.events, dry.associations, dry.queue_entries) == (3, 1, 3)
        assert await table_counts(container, job_ids) == before

        report = await cleaner.run()
        assert report.as_dict() == {**dry.as_dict(), "dryRun": False}
        assert await table_counts(container, due) == {
            "jobs": 0,
            "events": 0,
            "associations": 0,
            "attempts": 0,
        }
        kept = [job_id for job_id in job_ids if job_id not in due]
        assert await table_counts(container, kept) == {
            "jobs": len(kept),
            "events": len(kept),
            "associations": 0,
            "attempts": 0,
        }
        for job_id, (_status, _days, deleted, queue) in made["jobs"].items():
            held = await container.queues[queue].job(str(job_id))
            assert (held is None) == deleted, (job_id, made["jobs"][job_id])
        resume = await container.db.read(
            lambda c: (
                c.execute(select(resumes.c.id).where(resumes.c.id == made["resume_id"]))
                .scalars()
                .all()
            )
        )
        assert resume == [made["resume_id"]]

        again = await cleaner.run()
        assert again.total_jobs == 0
        assert again.queue_entries == 0


async def test_token_usage_of_days_past_retention_goes(settings: Settings) -> None:
    """Token usage rows of UTC days more than ATSPRO_RETAIN_TOKEN_USAGE_DAYS (31) before today
    are deleted for every user, in batches smaller than the work; a dry run only counts them;
    the retained days stay, and the budget still sees what each user spent today."""
    settings = settings.model_copy(update={"cleanup_batch_size": 2})
    ages = [0, 1, 30, 31, 32, 33, 400]  # days before NOW's day; 32 and older are due
    async with build(settings) as container:
        users = [
            (await container.auth.create_user(f"{uuid.uuid4().hex[:8]}@example.com"))[0].id
            for _ in range(2)
        ]
        for user_id in users:
            await spend(container, user_id, ages)
        every_day = {(NOW - DAY * age).date() for age in ages}
        kept = {(NOW - DAY * age).date() for age in ages if age <= 31}
        cleaner = Cleaner(
            db=container.db, queues=container.queues, settings=settings, clock=lambda: NOW
        )

        dry = await cleaner.run(dry_run=True)
        assert dry.as_dict()["tokenUsage"] == {"before": "2026-05-01", "rows": 6}
        assert await usage_days(container) == dict.fromkeys(users, every_day)

        report = await cleaner.run()
        assert report.as_dict() == {**dry.as_dict(), "dryRun": False}
        assert await usage_days(container) == dict.fromkeys(users, kept)
        today = TokenBudget(container.db, daily_tokens=1000, clock=lambda: NOW)
        assert [await today.used_today(user_id) for user_id in users] == [11, 11]

        again = await cleaner.run()
        assert again.usage_rows == 0


async def test_retention_is_per_status_and_zero_keeps_forever(
    make_settings: Callable[..., Settings],
) -> None:
    """Other retention settings move the cut-offs; 0 days keeps that status (or token usage)
    forever; batches smaller than the work still reach every due job."""
    settings = make_settings(
        retain_completed_days=0,
        retain_failed_days=10,
        retain_cancelled_days=1,
        retain_token_usage_days=0,
        cleanup_batch_size=1,
    )
    async with build(settings) as container:
        made = await age_jobs(container)
        await spend(container, made["user_id"], [0, 400])
        cleaner = Cleaner(
            db=container.db, queues=container.queues, settings=settings, clock=lambda: NOW
        )
        report = await cleaner.run()
        assert report.jobs == {"failed": 2, "cancelled": 2}
        left = await table_counts(container, list(made["jobs"]))
        assert left["jobs"] == len(CASES) - 4
        assert report.as_dict()["tokenUsage"] == {"before": None, "rows": 0}
        assert len((await usage_days(container))[made["user_id"]]) == 2


async def test_cleanup_runs_in_one_process_of_the_fleet(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> None:
    """Two processes sharing Redis locks: only the lock holder cleans, pass after pass; the
    other keeps trying and never cleans while the holder lives."""
    redis = Redis.from_url(CLEANUP_REDIS)
    await redis.delete("atspro:lock:atspro:cleanup")
    await redis.aclose()
    settings = make_settings(redis_url=CLEANUP_REDIS, cleanup_interval_s=0.2)

    def runs(app: LiveApp) -> float:
        return float(app.container.metrics.cleanup_runs._value.get())

    async for leader in serve(settings):
        with anyio.fail_after(20):
            while runs(leader) < 1:
                await anyio.sleep(0.05)
        async for follower in serve(settings):
            first = runs(leader)
            await anyio.sleep(settings.lease_s * 1.5)  # the follower tries at least twice
            assert runs(follower) == 0
            assert runs(leader) > first
