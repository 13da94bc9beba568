"""SQL for jobs and events. Functions take a session; the service owns the transaction."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Invalid
from app.jobs.status import JobStatus
from app.models import BackgroundJob, JobEvent
from app.schemas import JobRead


def snapshot(job: BackgroundJob) -> dict[str, Any]:
    """The job as the API shows it, JSON-ready: stored in each event and sent over SSE."""
    return JobRead.model_validate(job).model_dump(mode="json", by_alias=True)


async def lock_job(session: AsyncSession, job_id: uuid.UUID) -> BackgroundJob | None:
    """Read a job for update (row lock on PostgreSQL; SQLite holds the database write lock)."""
    result = await session.execute(
        select(BackgroundJob).where(BackgroundJob.id == job_id).with_for_update()
    )
    return result.scalar_one_or_none()


def add_event(session: AsyncSession, job: BackgroundJob, event_type: str) -> JobEvent:
    event = JobEvent(job_id=job.id, user_id=job.user_id, type=event_type, payload=snapshot(job))
    session.add(event)
    return event


def encode_cursor(job: BackgroundJob) -> str:
    raw = f"{job.created_at.isoformat()}|{job.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, job_id = raw.partition("|")
        return datetime.fromisoformat(created), uuid.UUID(job_id)
    except (ValueError, UnicodeDecodeError):
        raise Invalid("cursor is not one this API returned", field="cursor") from None


def list_query(
    user_id: uuid.UUID,
    *,
    statuses: Sequence[JobStatus] = (),
    job_types: Sequence[str] = (),
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Select[BackgroundJob]:
    """Newest first, keyset-paginated on (created_at, id): no OFFSET scans."""
    query = select(BackgroundJob).where(BackgroundJob.user_id == user_id)
    if statuses:
        query = query.where(BackgroundJob.status.in_([s.value for s in statuses]))
    if job_types:
        query = query.where(BackgroundJob.job_type.in_(job_types))
    if created_after:
        query = query.where(BackgroundJob.created_at > created_after)
    if created_before:
        query = query.where(BackgroundJob.created_at < created_before)
    if cursor:
        created, job_id = decode_cursor(cursor)
        query = query.where(
            or_(
                BackgroundJob.created_at < created,
                and_(BackgroundJob.created_at == created, BackgroundJob.id < job_id),
            )
        )
    return query.order_by(BackgroundJob.created_at.desc(), BackgroundJob.id.desc()).limit(limit)


async def events_after(
    session: AsyncSession,
    user_id: uuid.UUID,
    after_id: int,
    *,
    job_id: uuid.UUID | None = None,
    limit: int = 200,
) -> Sequence[JobEvent]:
    query = select(JobEvent).where(JobEvent.user_id == user_id, JobEvent.id > after_id)
    if job_id is not None:
        query = query.where(JobEvent.job_id == job_id)
    result = await session.execute(query.order_by(JobEvent.id).limit(limit))
    return result.scalars().all()


async def last_event_id(
    session: AsyncSession, user_id: uuid.UUID, job_id: uuid.UUID | None = None
) -> int:
    query = select(func.max(JobEvent.id)).where(JobEvent.user_id == user_id)
    if job_id is not None:
        query = query.where(JobEvent.job_id == job_id)
    return (await session.execute(query)).scalar_one_or_none() or 0


async def expired_leases(
    session: AsyncSession, now: datetime, limit: int = 100
) -> Sequence[uuid.UUID]:
    result = await session.execute(
        select(BackgroundJob.id)
        .where(
            BackgroundJob.status == JobStatus.RUNNING.value,
            BackgroundJob.lease_expires_at < now,
        )
        .limit(limit)
    )
    return result.scalars().all()


async def pending_before(
    session: AsyncSession, before: datetime, after_id: uuid.UUID | None, limit: int = 500
) -> Sequence[BackgroundJob]:
    """Pending jobs last touched before ``before``, in id order (for the reconciler)."""
    query = select(BackgroundJob).where(
        BackgroundJob.status == JobStatus.PENDING.value, BackgroundJob.updated_at < before
    )
    if after_id is not None:
        query = query.where(BackgroundJob.id > after_id)
    result = await session.execute(query.order_by(BackgroundJob.id).limit(limit))
    return result.scalars().all()
