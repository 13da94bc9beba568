"""API shapes. JSON is camelCase, matching the TypeScript types of the web app."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from app.ai.schemas import JobPosting, Optimization, Resume
from app.errors import ErrorKind
from app.jobs.attempts import Outcome
from app.jobs.status import JobStatus


class ApiModel(BaseModel):
    """What the API sends: camelCase; built from rows, whose other columns are left out."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, from_attributes=True, extra="ignore"
    )


class ApiInput(ApiModel):
    """What the API accepts: unknown fields (``userId``, ``status``…) are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class JobRead(ApiModel):
    """A job as users see it (the seed's ``BackgroundJob`` plus step text and error kind)."""

    id: uuid.UUID
    user_id: uuid.UUID
    job_type: str
    status: JobStatus
    priority: int
    progress: int
    progress_message: str | None
    input_data: dict[str, Any]
    result_data: dict[str, Any] | None
    error_message: str | None
    error_kind: ErrorKind | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    retry_count: int
    max_retries: int
    attempt: int
    links: dict[str, str] = Field(
        default_factory=dict,
        description='What the job made, e.g. {"resume": "/api/resumes/<id>"}',
    )


class JobSubmit(ApiInput):
    """``POST /api/jobs``: a registered task type that allows direct submission."""

    job_type: str = Field(min_length=1, max_length=100, examples=["diagnostic.echo"])
    input_data: dict[str, Any] = Field(default_factory=dict)
    priority: int = Field(default=5, ge=1, le=10, description="1 runs first, 10 last")
    max_retries: int | None = Field(default=None, ge=0, le=25)


class JobPage(ApiModel):
    items: list[JobRead]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page")


class JobEventMessage(ApiModel):
    """The ``data:`` of one SSE message."""

    event_type: str
    job: JobRead


class Health(ApiModel):
    status: str
    checks: dict[str, Any] = Field(default_factory=dict)


class ResumeRead(ApiModel):
    id: uuid.UUID
    filename: str
    created_at: datetime
    resume: Resume = Field(validation_alias="data")


class JobPostingRead(ApiModel):
    id: uuid.UUID
    url: str
    created_at: datetime
    job_posting: JobPosting = Field(validation_alias="data")


class OptimizationRead(ApiModel):
    id: uuid.UUID
    resume_id: uuid.UUID | None
    job_posting_id: uuid.UUID | None
    score: int
    created_at: datetime
    optimization: Optimization = Field(validation_alias="data")


class ResumePage(ApiModel):
    items: list[ResumeRead]
    next_cursor: str | None


class JobPostingPage(ApiModel):
    items: list[JobPostingRead]
    next_cursor: str | None


class OptimizationPage(ApiModel):
    items: list[OptimizationRead]
    next_cursor: str | None


class JobExtractRequest(ApiInput):
    """``PUT /api/job``."""

    url: str = Field(min_length=1, max_length=2048)
    company_name: str | None = Field(default=None, max_length=200)


class OptimizeRequest(ApiInput):
    """``PUT /api/optimize``: ``jobId`` is a job posting's id (the seed's name)."""

    resume_id: uuid.UUID
    job_id: uuid.UUID


# --- per-attempt history (operations) --------------------------------------------------------


class AttemptRead(ApiModel):
    """One run of a job, as its owner sees it (no traceback, no worker)."""

    attempt: int
    started_at: datetime
    finished_at: datetime | None
    outcome: Outcome
    error_kind: ErrorKind | None
    error_message: str | None


class JobDetail(JobRead):
    """``GET /api/jobs/{id}``: the job and the history of its attempts, oldest first."""

    attempts: list[AttemptRead] = Field(default_factory=list)
