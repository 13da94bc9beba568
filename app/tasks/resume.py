"""``resume.parse``: an uploaded file (PDF, DOCX, TXT, MD) becomes a structured Resume.

The file's bytes are untrusted: ``app.documents`` reads them in a confined child process. The
upload row is removed, and the resume stored, in the transaction that completes the job.
"""

from __future__ import annotations

import time
import uuid

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from app.ai.schemas import CamelModel, Resume
from app.documents import extract_text
from app.entities import store as entities
from app.errors import UserError
from app.tasks.base import Record, TaskContext, TaskSpec
from app.tasks.outputs import OperationOutput, new_id, provenance

JOB_TYPE = "resume.parse"


class ResumeParseInput(CamelModel):
    upload_id: uuid.UUID
    filename: str
    sha256: str


class ResumeParseOutput(OperationOutput):
    resume_id: uuid.UUID
    resume: Resume


async def parse_resume(ctx: TaskContext, data: ResumeParseInput) -> ResumeParseOutput:
    started = time.monotonic()
    services = ctx.use
    await ctx.progress(5, "Reading the file")
    query = select(entities.uploads.c.data).where(
        entities.uploads.c.id == data.upload_id, entities.uploads.c.user_id == ctx.user_id
    )
    content = await services.db.read(lambda c: c.execute(query).scalar_one_or_none())
    if content is None:
        raise UserError("The uploaded file is no longer available; upload it again.")
    await ctx.progress(15, "Extracting the text")
    document = await extract_text(content, data.filename, limits=services.document_limits)
    if not document.text.strip():
        raise UserError(
            "No text could be read from this file. If it is a scan, upload a PDF with "
            "selectable text, a DOCX or a TXT export."
        )
    await ctx.progress(60, "Understanding the resume")
    async with ctx.token_meter() as meter:
        resume = await services.ai.parse_resume(document.text, meter=meter)
    await ctx.progress(95, "Saving the resume")
    return ResumeParseOutput(resume_id=new_id(), resume=resume, **provenance(resume.meta, started))


def record(connection: Connection, job: Record, output: ResumeParseOutput) -> None:
    """Store the resume, link it to the job, and drop the upload it came from."""
    upload_id = uuid.UUID(str(job.input_data["uploadId"]))
    entities.keep(
        connection,
        entities.resumes,
        "resume",
        job,
        output.resume_id,
        {
            "filename": job.input_data["filename"],
            "sha256": job.input_data["sha256"],
            "data": output.resume.model_dump(mode="json", by_alias=True),
        },
    )
    connection.execute(delete(entities.uploads).where(entities.uploads.c.id == upload_id))


SPEC = TaskSpec(
    name=JOB_TYPE,
    input_model=ResumeParseInput,
    output_model=ResumeParseOutput,
    run=parse_resume,
    timeout_s=300.0,
    dedupe=lambda data: f"sha256:{data.sha256}",
    record=record,
    uses_ai=True,
    description="Parse an uploaded resume into a structured Resume.",
)
