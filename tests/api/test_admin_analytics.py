"""Usage analytics: the numbers match a known set of jobs run through the real app."""

from __future__ import annotations

import math
import statistics
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from app.models import BackgroundJob, JobAttempt
from tests.conftest import LiveApp
from tests.fixtures.dead_letters import failed, submit, wait_for


async def completed_durations(live: LiveApp, job_ids: list[str]) -> list[float]:
    """Seconds of each completed attempt of the jobs, read straight from their rows (where a
    completed attempt is recorded: no job_attempts row is written for it)."""
    ids = [uuid.UUID(job_id) for job_id in job_ids]
    rows = await live.container.db.read(
        lambda c: c.execute(
            select(BackgroundJob.started_at, BackgroundJob.completed_at).where(
                BackgroundJob.id.in_(ids), BackgroundJob.status == "completed"
            )
        ).all()
    )
    return sorted((finished - started).total_seconds() for started, finished in rows)


async def move_back(live: LiveApp, job_id: str, days: int) -> None:
    """Pretend the job (and its attempts) happened ``days`` days ago."""
    key = uuid.UUID(job_id)
    shift = timedelta(days=days)

    def shift_rows(connection: Any) -> None:
        job = connection.execute(select(BackgroundJob).where(BackgroundJob.id == key)).one()
        connection.execute(
            update(BackgroundJob)
            .where(BackgroundJob.id == key)
            .values(
                created_at=job.created_at - shift,
                started_at=job.started_at - shift,
                completed_at=job.completed_at - shift,
            )
        )
        for attempt in connection.execute(select(JobAttempt).where(JobAttempt.job_id == key)):
            connection.execute(
                update(JobAttempt)
                .where(JobAttempt.id == attempt.id)
                .values(
                    started_at=attempt.started_at - shift, finished_at=attempt.finished_at - shift
                )
            )

    await live.container.db.write(shift_rows)


async def check_analytics(live: LiveApp) -> None:
    """Five jobs of two users today (three plain, one failed, one retried once then done) plus
    one from 40 days ago: the last 30 days count exactly today's five."""
    async with (
        await live.user(f"ops-{uuid.uuid4().hex[:6]}@example.com", admin=True) as admin,
        await live.user(f"ann-{uuid.uuid4().hex[:6]}@example.com") as ann,
        await live.user(f"bob-{uuid.uuid4().hex[:6]}@example.com") as bob,
    ):
        plain = [await submit(ann, echo=n, seconds=0.05 * n) for n in range(1, 4)]
        for job_id in plain:
            await wait_for(ann, job_id, {"completed"})
        await failed(bob, "user")
        retried = await submit(bob, failTimes=1, failKind="transient")
        assert (await wait_for(bob, retried))["status"] == "completed"
        old = await submit(ann, echo="old")
        await wait_for(ann, old, {"completed"})
        await move_back(live, old, days=40)

        response = await admin.get("/api/admin/analytics", params={"days": 30})
        assert response.status_code == 200, response.text
        report = response.json()
        durations = await completed_durations(live, [*plain, retried])
        everything = (await admin.get("/api/admin/analytics", params={"days": 41})).json()

    today = datetime.now(UTC).date().isoformat()
    expected = {"submitted": 5, "completed": 4, "failed": 1, "retried": 1}
    assert report["days"] == 30
    assert report["daily"] == [{"day": today, "jobType": "diagnostic.echo", **expected}]
    [by_type] = report["byType"]
    assert {key: by_type[key] for key in expected} == expected
    assert by_type["successRate"] == 0.8
    assert len(durations) == 4
    assert by_type["medianDurationS"] == statistics.median(durations)
    assert by_type["p95DurationS"] == durations[math.ceil(0.95 * 4) - 1] == max(durations)
    assert by_type["medianDurationS"] >= 0.05
    assert report["activeUsers"] == 2
    assert report["topOperations"] == [{"jobType": "diagnostic.echo", "submitted": 5}]
    assert len(everything["daily"]) == 2
    assert everything["byType"][0]["submitted"] == 6


async def test_analytics_match_the_jobs_that_ran(live: LiveApp) -> None:
    """On SQLite: counts per type and day, success rate, median and p95, active users."""
    await check_analytics(live)


async def test_analytics_of_an_empty_window(live: LiveApp) -> None:
    """With no jobs the report is empty, not an error."""
    async with await live.user("ops@example.com", admin=True) as admin:
        report = (await admin.get("/api/admin/analytics", params={"days": 1})).json()
    assert report["daily"] == []
    assert report["byType"] == []
    assert report["topOperations"] == []
    assert report["activeUsers"] == 0
