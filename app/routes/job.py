"""``PUT /api/job``: extract a job posting from a URL in the background."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.deps import Jobs, Submitter
from app.routes.submission import AsyncFlag, IdempotencyKey, answer
from app.schemas import JobExtractRequest, JobRead
from app.tasks import job_posting

router = APIRouter(prefix="/api", tags=["operations"])


@router.put("/job", status_code=202, response_model=JobRead)
async def extract(
    body: JobExtractRequest,
    request: Request,
    jobs: Jobs,
    user: Submitter,
    async_: AsyncFlag = True,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    job = await jobs.submit(
        user.id,
        job_posting.JOB_TYPE,
        {"url": body.url, "companyName": body.company_name},
        priority=3,
        idempotency_key=idempotency_key,
    )
    timeout_s = request.app.state.container.settings.sync_timeout_s
    return await answer(job, jobs, user, wait=not async_, timeout_s=timeout_s)
