"""API shapes of the operations endpoints (camelCase, like ``app/schemas.py``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import Field

from app.errors import ErrorKind
from app.schemas import ApiInput, ApiModel, AttemptRead, JobRead


class AdminAttemptRead(AttemptRead):
    """One run of a job, for operators: where it ran and its traceback (secrets redacted)."""

    worker_id: str | None
    traceback: str | None


class DeadLetterRead(JobRead):
    """A job in the console listing: the job and its owner's email."""

    owner_email: str


class DeadLetterPage(ApiModel):
    items: list[DeadLetterRead]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page")


class DeadLetterInspection(ApiModel):
    """Everything about one job: input, owner, error history per attempt, last traceback."""

    job: DeadLetterRead
    traceback: str | None = Field(description="The last failure's traceback (operators only)")
    attempts: list[AdminAttemptRead]


class RetryMatchingRequest(ApiInput):
    """``POST /api/admin/jobs/retry``: which failed jobs to retry (all fields narrow it down)."""

    job_type: list[str] = Field(default_factory=list)
    error_kind: list[ErrorKind] = Field(default_factory=list)
    created_after: datetime | None = None
    created_before: datetime | None = None
    failed_after: datetime | None = None
    failed_before: datetime | None = None
    q: str | None = Field(default=None, min_length=1, max_length=200)


class RetryMatchingResult(ApiModel):
    count: int = Field(description="How many jobs were put back on their queues")


class AuditEntryRead(ApiModel):
    id: int
    admin_id: uuid.UUID | None
    admin_email: str
    action: str = Field(examples=["job.retry", "job.discard", "job.retry_matching"])
    target: str | None
    detail: dict[str, Any]
    created_at: datetime


class AuditPage(ApiModel):
    items: list[AuditEntryRead]
    next_cursor: str | None


class DailyUsage(ApiModel):
    """One job type on one UTC day."""

    day: date
    job_type: str
    submitted: int
    completed: int
    failed: int
    retried: int = Field(description="Attempts that ended in an automatic retry")


class TypeUsage(ApiModel):
    """One job type over the whole window."""

    job_type: str
    submitted: int
    completed: int
    failed: int
    retried: int
    success_rate: float | None = Field(description="completed / (completed + failed); null: none")
    median_duration_s: float | None = Field(description="Of completed attempts")
    p95_duration_s: float | None


class OperationUsage(ApiModel):
    job_type: str
    submitted: int


class Analytics(ApiModel):
    """``GET /api/admin/analytics``: usage over the last ``days`` UTC days (today included)."""

    days: int
    since: datetime
    daily: list[DailyUsage]
    by_type: list[TypeUsage]
    active_users: int = Field(description="Users who submitted at least one job in the window")
    top_operations: list[OperationUsage] = Field(description="Job types by submissions, most first")
