"""``job.extract``: a job posting URL becomes a structured JobPosting.

The page is fetched through the SSRF-safe fetcher (public addresses only, checked at every
redirect), then read by the AI engine: JSON-LD first, page heuristics, the model for the gaps.
"""

from __future__ import annotations

import time
import uuid

from pydantic import Field, HttpUrl
from sqlalchemy.engine import Connection

from app.ai.schemas import CamelModel, JobPosting
from app.entities import store as entities
from app.tasks.base import Record, TaskContext, TaskSpec
from app.tasks.outputs import OperationOutput, new_id, provenance

JOB_TYPE = "job.extract"


class JobExtractionInput(CamelModel):
    url: HttpUrl
    company_name: str | None = Field(default=None, max_length=200)


class JobExtractionOutput(OperationOutput):
    job_posting_id: uuid.UUID
    job_posting: JobPosting


async def extract_job(ctx: TaskContext, data: JobExtractionInput) -> JobExtractionOutput:
    started = time.monotonic()
    services = ctx.use
    await ctx.progress(5, "Fetching the page")
    page = await services.fetcher.fetch(str(data.url))
    await ctx.progress(50, "Reading the posting")
    async with ctx.token_meter() as meter:
        posting = await services.ai.extract_job(page.text, page.url, data.company_name, meter=meter)
    await ctx.progress(95, "Saving the posting")
    return JobExtractionOutput(
        job_posting_id=new_id(), job_posting=posting, **provenance(posting.meta, started)
    )


def record(connection: Connection, job: Record, output: JobExtractionOutput) -> None:
    entities.keep(
        connection,
        entities.postings,
        "jobPosting",
        job,
        output.job_posting_id,
        {
            "url": output.job_posting.url or job.input_data["url"],
            "data": output.job_posting.model_dump(mode="json", by_alias=True),
        },
    )


SPEC = TaskSpec(
    name=JOB_TYPE,
    input_model=JobExtractionInput,
    output_model=JobExtractionOutput,
    run=extract_job,
    timeout_s=180.0,
    dedupe=lambda data: f"url:{data.url}",
    record=record,
    uses_ai=True,
    description="Extract a job posting from a URL.",
)
