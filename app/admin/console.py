"""The dead-letter console: failed jobs across users, for admins to inspect, retry or discard.

Failed rows in ``background_jobs`` are the dead-letter list (SAQ's own failed state mirrors
them). Every action goes through the same ``JobService`` change a user's own retry or cancel
uses, so the transition table, events and SSE behave as usual; its audit entry is written in the
same transaction as the change, so there is never one without the other.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from saq.job import TERMINAL_STATUSES, Status
from sqlalchemy import Row, Select, Table, and_, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from app.admin.audit import AuditLog, add_entry
from app.db import Database, utcnow
from app.errors import Conflict, ErrorKind, Invalid, NotFound
from app.jobs import attempts, store
from app.jobs.service import Effect, JobService
from app.jobs.status import JobStatus
from app.jobs.store import JobRow, jobs
from app.models import User

log = logging.getLogger("atspro.admin")

users = cast(Table, User.__table__)

RETRY_BATCH = 200
RETRY_ALL_LIMIT = 10_000  # one request retries at most this many; call again for the rest


@dataclass(frozen=True)
class DeadLetterFilter:
    """Which jobs a listing or a bulk retry covers. Times are compared as given (UTC-aware)."""

    statuses: Sequence[JobStatus] = (JobStatus.FAILED,)
    job_types: Sequence[str] = ()
    error_kinds: Sequence[ErrorKind] = ()
    created_after: datetime | None = None
    created_before: datetime | None = None
    failed_after: datetime | None = None
    failed_before: datetime | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        for name, after, before in (
            ("created", self.created_after, self.created_before),
            ("failed", self.failed_after, self.failed_before),
        ):
            if after is not None and before is not None and after >= before:
                raise Invalid(
                    f"{name}After must be earlier than {name}Before", field=f"{name}After"
                )

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = [jobs.c.status.in_([s.value for s in self.statuses])]
        if self.job_types:
            found.append(jobs.c.job_type.in_(list(self.job_types)))
        if self.error_kinds:
            found.append(jobs.c.error_kind.in_([k.value for k in self.error_kinds]))
        if self.created_after:
            found.append(jobs.c.created_at > self.created_after)
        if self.created_before:
            found.append(jobs.c.created_at < self.created_before)
        if self.failed_after:
            found.append(jobs.c.completed_at > self.failed_after)
        if self.failed_before:
            found.append(jobs.c.completed_at < self.failed_before)
        if self.text:
            found.append(jobs.c.error_message.icontains(self.text, autoescape=True))
        return found

    def describe(self) -> dict[str, Any]:
        """The filter as JSON, for the audit log."""
        described: dict[str, Any] = {"status": [s.value for s in self.statuses]}
        for key, value in (
            ("jobType", list(self.job_types)),
            ("errorKind", [k.value for k in self.error_kinds]),
            ("createdAfter", self.created_after),
            ("createdBefore", self.created_before),
            ("failedAfter", self.failed_after),
            ("failedBefore", self.failed_before),
            ("q", self.text),
        ):
            if value:
                described[key] = value.isoformat() if isinstance(value, datetime) else value
        return described


@dataclass(frozen=True)
class Inspection:
    job: Row[Any]  # the job's columns plus ``owner_email``
    attempts: Sequence[attempts.Attempt]


def _listing(where: Sequence[ColumnElement[bool]]) -> Select[Any]:
    return (
        select(jobs, users.c.email.label("owner_email"))
        .join(users, users.c.id == jobs.c.user_id)
        .where(*where)
    )


def _page(
    connection: Connection, where: Sequence[ColumnElement[bool]], cursor: str | None, limit: int
) -> Sequence[Row[Any]]:
    """Newest first, keyset-paginated on (created_at, id) like ``GET /api/jobs``."""
    conditions = list(where)
    if cursor:
        created, job_id = store.decode_cursor(cursor)
        conditions.append(
            or_(
                jobs.c.created_at < created,
                and_(jobs.c.created_at == created, jobs.c.id < job_id),
            )
        )
    query = _listing(conditions).order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
    return connection.execute(query.limit(limit)).all()


class DeadLetterConsole:
    def __init__(self, db: Database, service: JobService, audit: AuditLog) -> None:
        self.db = db
        self.service = service
        self.audit = audit

    async def list(
        self, selection: DeadLetterFilter, *, cursor: str | None = None, limit: int = 50
    ) -> tuple[Sequence[Row[Any]], str | None]:
        where = selection.conditions()
        found = await self.db.read(lambda c: _page(c, where, cursor, limit + 1))
        if len(found) > limit:
            return found[:limit], store.encode_cursor(found[limit - 1])
        return found, None

    async def inspect(self, job_id: uuid.UUID) -> Inspection:
        def load(connection: Connection) -> Inspection:
            job = connection.execute(_listing([jobs.c.id == job_id])).one_or_none()
            if job is None:
                raise NotFound(f"job {job_id} not found")
            return Inspection(job, attempts.for_jobs(connection, [job_id]))

        return await self.db.read(load)

    async def retry(self, admin: User, job_id: uuid.UUID, *, via: str = "console") -> JobRow:
        """Run a failed or cancelled job again (a new attempt, same id), whoever owns it."""
        owner = await self._owner(job_id)
        return await self.service.retry(
            owner,
            job_id,
            also=self._audited(admin, "job.retry", {"via": via}),
            check_budget=False,  # an operator's call; an over-budget job fails fast again
        )

    async def cancel(self, admin: User, job_id: uuid.UUID, *, via: str = "console") -> JobRow:
        """Cancel a pending or running job, whoever owns it."""
        owner = await self._owner(job_id)
        return await self.service.cancel(
            owner, job_id, also=self._audited(admin, "job.cancel", {"via": via})
        )

    async def retry_matching(self, admin: User, selection: DeadLetterFilter) -> int:
        """Retry every job the filter selects (at most ``RETRY_ALL_LIMIT``); the count retried.

        A job that changed meanwhile (retried by its owner, say) is skipped, not an error."""
        retried = 0
        cursor: str | None = None
        while retried < RETRY_ALL_LIMIT:
            batch, cursor = await self.list(selection, cursor=cursor, limit=RETRY_BATCH)
            for row in batch:
                try:
                    await self.service.retry(row.user_id, row.id, check_budget=False)
                except (Conflict, NotFound):
                    continue
                retried += 1
            if cursor is None:
                break
        await self.audit.record(
            admin, "job.retry_matching", None, {"filter": selection.describe(), "count": retried}
        )
        return retried

    async def discard(self, admin: User, job_id: uuid.UUID) -> None:
        """Delete a finished job for good: its row, events, attempts and queue entry."""

        def remove(connection: Connection) -> JobRow:
            job = store.get(connection, job_id)
            if job is None:
                raise NotFound(f"job {job_id} not found")
            if not JobStatus(job.status).is_terminal:
                raise Conflict(f"cannot discard a {job.status} job; cancel it first")
            store.remove(connection, job_id)
            detail = {"jobType": job.job_type, "status": job.status, "ownerId": str(job.user_id)}
            add_entry(connection, admin, "job.discard", str(job_id), detail, utcnow())
            return job

        job = await self.db.write(remove)
        await self._drop_queue_entry(job)

    @staticmethod
    def _audited(admin: User, action: str, detail: dict[str, Any]) -> Effect:
        """An audit entry for the job, to be written in the transaction that changes it."""

        def write(connection: Connection, job: JobRow) -> None:
            add_entry(connection, admin, action, str(job.id), detail, utcnow())

        return write

    async def exists(self, job_id: uuid.UUID) -> bool:
        return await self.db.read(lambda c: store.get(c, job_id)) is not None

    async def _owner(self, job_id: uuid.UUID) -> uuid.UUID:
        job = await self.db.read(lambda c: store.get(c, job_id))
        if job is None:
            raise NotFound(f"job {job_id} not found")
        owner: uuid.UUID = job.user_id
        return owner

    async def _drop_queue_entry(self, job: JobRow) -> None:
        """The queue forgets the job too (``ttl < 0`` makes every backend delete on finish)."""
        queue = self.service.queues.get(job.queue)
        if queue is None:
            return
        try:
            saq_job = await queue.job(str(job.id))
            if saq_job is None:
                return
            if saq_job.status not in TERMINAL_STATUSES:
                await queue.abort(saq_job, "discarded by an admin")
            saq_job.ttl = -1
            await queue.finish(saq_job, Status.ABORTED, error="discarded by an admin")
        except Exception:
            # The row is gone, so nothing runs it again; an entry left behind expires by its ttl.
            log.exception("admin.discard_queue_failed", extra={"job_id": str(job.id)})
