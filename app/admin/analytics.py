"""Usage analytics over the last N UTC days: per type and day, rates, durations, users.

Counts are grouped in SQL (the day of a UTC timestamp is the one expression that differs between
SQLite and PostgreSQL); percentiles are computed in Python over a bounded read of completed
attempts, the same on both backends. Failures and retries come from ``job_attempts``: a job failed
twice (retried by hand in between) counts two failures, each on its own day. Completions come
from the jobs' rows, where a completed attempt is recorded (``app.jobs.attempts``).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import distinct, func, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from app.admin.schemas import Analytics, DailyUsage, OperationUsage, TypeUsage
from app.db import Database, utcnow
from app.jobs.attempts import Outcome, attempts
from app.jobs.status import JobStatus
from app.jobs.store import jobs

MAX_DURATIONS = 100_000  # completed attempts read for percentiles (the most recent ones)
COUNTED = {
    Outcome.COMPLETED.value: "completed",
    Outcome.FAILED.value: "failed",
    Outcome.RETRY_SCHEDULED.value: "retried",
}


def _day(column: Any, dialect: str) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column. SQLite stores naive UTC text; PostgreSQL's
    ``timestamptz`` is shifted to UTC first, whatever the session's time zone."""
    if dialect == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (one of them, never interpolated)."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class _Counts:
    submitted: int = 0
    completed: int = 0
    failed: int = 0
    retried: int = 0
    durations: list[float] = field(default_factory=list)


def _gather(connection: Connection, since: datetime) -> Analytics:
    dialect = connection.dialect.name
    submitted_day = _day(jobs.c.created_at, dialect)
    submitted = connection.execute(
        select(submitted_day, jobs.c.job_type, func.count())
        .where(jobs.c.created_at >= since)
        .group_by(submitted_day, jobs.c.job_type)
    ).all()
    # Attempts that ended otherwise are rows of job_attempts; a completed one is its job's row
    # (app/jobs/attempts.py), so completions and their durations are counted from the jobs.
    finished_day = _day(attempts.c.finished_at, dialect)
    ended = [outcome for outcome in COUNTED if outcome != Outcome.COMPLETED.value]
    ended_otherwise = connection.execute(
        select(finished_day, jobs.c.job_type, attempts.c.outcome, func.count())
        .join(jobs, jobs.c.id == attempts.c.job_id)
        .where(attempts.c.finished_at >= since, attempts.c.outcome.in_(ended))
        .group_by(finished_day, jobs.c.job_type, attempts.c.outcome)
    ).all()
    completed_day = _day(jobs.c.completed_at, dialect)
    completed = jobs.c.status == JobStatus.COMPLETED.value
    completions = connection.execute(
        select(completed_day, jobs.c.job_type, literal(Outcome.COMPLETED.value), func.count())
        .where(completed, jobs.c.completed_at >= since)
        .group_by(completed_day, jobs.c.job_type)
    ).all()
    outcomes = [*ended_otherwise, *completions]
    durations = connection.execute(
        select(jobs.c.job_type, jobs.c.started_at, jobs.c.completed_at)
        .where(completed, jobs.c.completed_at >= since)
        .order_by(jobs.c.completed_at.desc())
        .limit(MAX_DURATIONS)
    ).all()
    active_users = connection.execute(
        select(func.count(distinct(jobs.c.user_id))).where(jobs.c.created_at >= since)
    ).scalar_one()
    daily: dict[tuple[date, str], _Counts] = defaultdict(_Counts)
    for day, job_type, count in submitted:
        daily[(_as_date(day), job_type)].submitted += count
    for day, job_type, outcome, count in outcomes:
        counts = daily[(_as_date(day), job_type)]
        setattr(counts, COUNTED[outcome], getattr(counts, COUNTED[outcome]) + count)
    totals: dict[str, _Counts] = defaultdict(_Counts)
    for (_, job_type), counts in daily.items():
        total = totals[job_type]
        total.submitted += counts.submitted
        total.completed += counts.completed
        total.failed += counts.failed
        total.retried += counts.retried
    for job_type, started_at, finished_at in durations:
        totals[job_type].durations.append((finished_at - started_at).total_seconds())
    return Analytics(
        days=0,
        since=since,
        daily=[
            DailyUsage(day=day, job_type=job_type, **_plain(counts))
            for (day, job_type), counts in sorted(daily.items())
        ],
        by_type=[_type_usage(job_type, totals[job_type]) for job_type in sorted(totals)],
        active_users=int(active_users),
        top_operations=[
            OperationUsage(job_type=job_type, submitted=counts.submitted)
            for job_type, counts in sorted(totals.items(), key=lambda item: -item[1].submitted)
            if counts.submitted
        ],
    )


def _plain(counts: _Counts) -> dict[str, int]:
    return {
        "submitted": counts.submitted,
        "completed": counts.completed,
        "failed": counts.failed,
        "retried": counts.retried,
    }


def _type_usage(job_type: str, counts: _Counts) -> TypeUsage:
    finished = counts.completed + counts.failed
    ordered = sorted(counts.durations)
    return TypeUsage(
        job_type=job_type,
        **_plain(counts),
        success_rate=counts.completed / finished if finished else None,
        median_duration_s=statistics.median(ordered) if ordered else None,
        p95_duration_s=percentile(ordered, 0.95) if ordered else None,
    )


class UsageAnalytics:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def report(self, days: int, *, now: datetime | None = None) -> Analytics:
        """Usage from the start of the UTC day ``days - 1`` days ago until now."""
        today = (now or utcnow()).astimezone(UTC).date()
        since = datetime.combine(today - timedelta(days=days - 1), time.min, tzinfo=UTC)
        report = await self.db.read(lambda c: _gather(c, since))
        return report.model_copy(update={"days": days})
