"""The backlog as the job table sees it: unfinished jobs per queue and the oldest one waiting.

For ``atspro status``: the queue backends say what is queued and claimed; the table says what
users are waiting for, including jobs a queue lost and the reconciler has yet to put back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from app.jobs.status import JobStatus
from app.jobs.store import jobs

UNFINISHED = (JobStatus.PENDING.value, JobStatus.RUNNING.value)


def backlog(connection: Connection, now: datetime) -> dict[str, Any]:
    """``{"pending": {queue: n}, "running": {queue: n}, "oldestPending": {...} | None}``."""
    counts = select(jobs.c.status, jobs.c.queue, func.count()).where(jobs.c.status.in_(UNFINISHED))
    result: dict[str, Any] = {status: {} for status in UNFINISHED}
    for status, queue, count in connection.execute(counts.group_by(jobs.c.status, jobs.c.queue)):
        result[status][queue] = int(count)
    oldest = connection.execute(
        select(jobs.c.id, jobs.c.job_type, jobs.c.queue, jobs.c.created_at, jobs.c.run_after)
        .where(jobs.c.status == JobStatus.PENDING.value)
        .order_by(jobs.c.created_at, jobs.c.id)
        .limit(1)
    ).one_or_none()
    result["oldestPending"] = (
        None
        if oldest is None
        else {
            "id": str(oldest.id),
            "jobType": oldest.job_type,
            "queue": oldest.queue,
            "createdAt": oldest.created_at.isoformat(),
            "ageS": round((now - oldest.created_at).total_seconds(), 1),
            "runAfter": oldest.run_after.isoformat() if oldest.run_after else None,
        }
    )
    return result
