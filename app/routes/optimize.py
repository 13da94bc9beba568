"""``PUT /api/optimize``: tailor a resume to a job posting in the background."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.deps import Entities, Jobs, Submitter
from app.entities.service import EntityKind
from app.routes.submission import AsyncFlag, IdempotencyKey, answer
from app.schemas import JobRead, OptimizeRequest
from app.tasks import optimize

router = APIRouter(prefix="/api", tags=["operations"])


@router.put("/optimize", status_code=202, response_model=JobRead)
async def optimize_resume(
    body: OptimizeRequest,
    request: Request,
    jobs: Jobs,
    entities: Entities,
    user: Submitter,
    async_: AsyncFlag = True,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    # Both must be the caller's, now: a 404 here beats a job that fails later.
    await entities.get(EntityKind.RESUME, user.id, body.resume_id)
    await entities.get(EntityKind.JOB_POSTING, user.id, body.job_id)
    job = await jobs.submit(
        user.id,
        optimize.JOB_TYPE,
        {"resumeId": str(body.resume_id), "jobPostingId": str(body.job_id)},
        priority=3,
        idempotency_key=idempotency_key,
    )
    timeout_s = request.app.state.container.settings.sync_timeout_s
    return await answer(job, jobs, user, wait=not async_, timeout_s=timeout_s)
