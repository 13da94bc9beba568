"""How the three operations answer: 202 with the job, or (deprecated ``?async=false``) the result.

The synchronous form goes through the queue like every job, so there is one code path; it only
waits for the job to finish (at most ``ATSPRO_SYNC_TIMEOUT_S``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Query
from fastapi.responses import JSONResponse

from app.jobs.service import JobService
from app.jobs.status import JobStatus
from app.jobs.store import JobRow
from app.models import User
from app.schemas import JobRead

AsyncFlag = Annotated[
    bool,
    Query(
        alias="async",
        description="false: wait for the result (deprecated; answers with a Deprecation header)",
    ),
]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="A repeat within 24 h returns the same job instead of a new one",
    ),
]

# The synchronous form's status for a failed job, by error kind (others: 500).
FAILED_STATUS = {"user": 422, "over_budget": 429, "llm_unavailable": 503}

DEPRECATION = {
    "Deprecation": "true",
    "Link": '</api/jobs/events>; rel="alternate"; title="follow the job over SSE instead"',
}


async def answer(
    job: JobRow, jobs: JobService, user: User, *, wait: bool, timeout_s: float
) -> JSONResponse:
    if not wait:
        return JSONResponse(_json(job), status_code=202)
    job = await jobs.wait_until_finished(user.id, job.id, timeout_s)
    status = JobStatus(job.status)
    if status is JobStatus.COMPLETED:
        return JSONResponse(job.result_data, headers=DEPRECATION)
    if status.is_terminal:
        body = {
            "type": "about:blank",
            "title": "Job failed" if status is JobStatus.FAILED else "Job cancelled",
            "status": FAILED_STATUS.get(job.error_kind or "", 500),
            "detail": job.error_message,
            "job": _json(job),
        }
        return JSONResponse(
            body,
            status_code=body["status"],
            headers=DEPRECATION,
            media_type="application/problem+json",
        )
    return JSONResponse(_json(job), status_code=202, headers=DEPRECATION)  # still running


def _json(job: JobRow) -> dict[str, Any]:
    return JobRead.model_validate(job).model_dump(mode="json", by_alias=True)
