"""What jobs made, scoped to the caller: resumes, job postings, optimizations."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from app.deps import CurrentUser, Entities
from app.entities.service import EntityKind
from app.schemas import (
    JobPostingPage,
    JobPostingRead,
    OptimizationPage,
    OptimizationRead,
    ResumePage,
    ResumeRead,
)

router = APIRouter(prefix="/api", tags=["entities"])

Limit = Annotated[int, Query(ge=1, le=200)]


@router.get("/resumes", response_model=ResumePage)
async def list_resumes(
    entities: Entities, user: CurrentUser, cursor: str | None = None, limit: Limit = 50
) -> ResumePage:
    rows, next_cursor = await entities.list(EntityKind.RESUME, user.id, cursor=cursor, limit=limit)
    return ResumePage(items=[ResumeRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/resumes/{resume_id}", response_model=ResumeRead)
async def get_resume(resume_id: uuid.UUID, entities: Entities, user: CurrentUser) -> ResumeRead:
    return ResumeRead.model_validate(await entities.get(EntityKind.RESUME, user.id, resume_id))


@router.delete("/resumes/{resume_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_resume(resume_id: uuid.UUID, entities: Entities, user: CurrentUser) -> None:
    await entities.delete(EntityKind.RESUME, user.id, resume_id)


@router.get("/job-postings", response_model=JobPostingPage)
async def list_job_postings(
    entities: Entities, user: CurrentUser, cursor: str | None = None, limit: Limit = 50
) -> JobPostingPage:
    rows, next_cursor = await entities.list(
        EntityKind.JOB_POSTING, user.id, cursor=cursor, limit=limit
    )
    return JobPostingPage(
        items=[JobPostingRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get("/job-postings/{posting_id}", response_model=JobPostingRead)
async def get_job_posting(
    posting_id: uuid.UUID, entities: Entities, user: CurrentUser
) -> JobPostingRead:
    row = await entities.get(EntityKind.JOB_POSTING, user.id, posting_id)
    return JobPostingRead.model_validate(row)


@router.delete("/job-postings/{posting_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_job_posting(posting_id: uuid.UUID, entities: Entities, user: CurrentUser) -> None:
    await entities.delete(EntityKind.JOB_POSTING, user.id, posting_id)


@router.get("/optimizations", response_model=OptimizationPage)
async def list_optimizations(
    entities: Entities, user: CurrentUser, cursor: str | None = None, limit: Limit = 50
) -> OptimizationPage:
    rows, next_cursor = await entities.list(
        EntityKind.OPTIMIZATION, user.id, cursor=cursor, limit=limit
    )
    return OptimizationPage(
        items=[OptimizationRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get("/optimizations/{optimization_id}", response_model=OptimizationRead)
async def get_optimization(
    optimization_id: uuid.UUID, entities: Entities, user: CurrentUser
) -> OptimizationRead:
    row = await entities.get(EntityKind.OPTIMIZATION, user.id, optimization_id)
    return OptimizationRead.model_validate(row)


@router.delete("/optimizations/{optimization_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_optimization(
    optimization_id: uuid.UUID, entities: Entities, user: CurrentUser
) -> None:
    await entities.delete(EntityKind.OPTIMIZATION, user.id, optimization_id)
