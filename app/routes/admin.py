"""Operations API for admins: the dead-letter console, the audit log, usage analytics.

Thin: each route turns HTTP into one call on ``DeadLetterConsole``, ``AuditLog`` or
``UsageAnalytics`` (app/admin/) and back. SAQ's queue monitor is mounted separately
(``app/admin/monitor.py``) because it is a whole ASGI app.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status

from app.admin.access import Audit, Console
from app.admin.analytics import UsageAnalytics
from app.admin.console import DeadLetterFilter
from app.admin.schemas import (
    AdminAttemptRead,
    Analytics,
    AuditEntryRead,
    AuditPage,
    DeadLetterInspection,
    DeadLetterPage,
    DeadLetterRead,
    RetryMatchingRequest,
    RetryMatchingResult,
)
from app.deps import AppContainer, CurrentAdmin, current_admin
from app.errors import ErrorKind
from app.jobs.status import JobStatus
from app.schemas import JobRead

router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[Depends(current_admin)])


def _filter(
    status_: Annotated[list[JobStatus], Query(alias="status")] = [JobStatus.FAILED],  # noqa: B006
    job_type: Annotated[list[str], Query(alias="jobType")] = [],  # noqa: B006
    error_kind: Annotated[list[ErrorKind], Query(alias="errorKind")] = [],  # noqa: B006
    created_after: Annotated[datetime | None, Query(alias="createdAfter")] = None,
    created_before: Annotated[datetime | None, Query(alias="createdBefore")] = None,
    failed_after: Annotated[datetime | None, Query(alias="failedAfter")] = None,
    failed_before: Annotated[datetime | None, Query(alias="failedBefore")] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Text in the error message")
    ] = None,
) -> DeadLetterFilter:
    return DeadLetterFilter(
        statuses=status_,
        job_types=job_type,
        error_kinds=error_kind,
        created_after=created_after,
        created_before=created_before,
        failed_after=failed_after,
        failed_before=failed_before,
        text=q,
    )


def _dead_letters(rows: Sequence[Any]) -> list[DeadLetterRead]:
    return [DeadLetterRead.model_validate(row) for row in rows]


@router.get("/jobs", response_model=DeadLetterPage)
async def list_dead_letters(
    console: Console,
    selection: Annotated[DeadLetterFilter, Depends(_filter)],
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeadLetterPage:
    """Failed jobs of every user, newest first (``?status=`` for other statuses)."""
    items, next_cursor = await console.list(selection, cursor=cursor, limit=limit)
    return DeadLetterPage(items=_dead_letters(items), next_cursor=next_cursor)


@router.post("/jobs/retry", response_model=RetryMatchingResult)
async def retry_matching(
    body: RetryMatchingRequest, console: Console, admin: CurrentAdmin
) -> RetryMatchingResult:
    """Retry every failed job the filter selects (at most 10,000 per call)."""
    selection = DeadLetterFilter(
        job_types=body.job_type,
        error_kinds=body.error_kind,
        created_after=body.created_after,
        created_before=body.created_before,
        failed_after=body.failed_after,
        failed_before=body.failed_before,
        text=body.q,
    )
    return RetryMatchingResult(count=await console.retry_matching(admin, selection))


@router.get("/jobs/{job_id}", response_model=DeadLetterInspection)
async def inspect_job(job_id: uuid.UUID, console: Console) -> DeadLetterInspection:
    found = await console.inspect(job_id)
    return DeadLetterInspection(
        job=DeadLetterRead.model_validate(found.job),
        traceback=found.job.error_detail,
        attempts=[AdminAttemptRead.model_validate(row) for row in found.attempts],
    )


@router.post("/jobs/{job_id}/retry", status_code=status.HTTP_202_ACCEPTED, response_model=JobRead)
async def retry_job(job_id: uuid.UUID, console: Console, admin: CurrentAdmin) -> JobRead:
    return JobRead.model_validate(await console.retry(admin, job_id))


@router.delete("/jobs/{job_id}", status_code=status.HTTP_204_NO_CONTENT)
async def discard_job(job_id: uuid.UUID, console: Console, admin: CurrentAdmin) -> None:
    """Delete a finished job with its events, attempts and queue entry (409 if unfinished)."""
    await console.discard(admin, job_id)


@router.get("/audit", response_model=AuditPage)
async def audit_log(
    audit: Audit,
    action: Annotated[str | None, Query(max_length=50, examples=["job.retry"])] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AuditPage:
    """What admins did, newest first."""
    items, next_cursor = await audit.entries(action=action, cursor=cursor, limit=limit)
    return AuditPage(
        items=[AuditEntryRead.model_validate(row) for row in items], next_cursor=next_cursor
    )


@router.get("/analytics", response_model=Analytics)
async def analytics(
    container: AppContainer, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> Analytics:
    """Jobs per type per day, success rates, durations, active users, most used operations."""
    return await UsageAnalytics(container.db).report(days)
