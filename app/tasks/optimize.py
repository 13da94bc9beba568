"""``resume.optimize``: a resume tailored to a job posting, with an ATS match score.

The score is computed the same way before and after tailoring, so users see the gain; the
offline engine only reorders and rewrites what the resume already says.
"""

from __future__ import annotations

import time
import uuid

from sqlalchemy.engine import Connection

from app.ai.schemas import CamelModel, JobPosting, Optimization, Resume
from app.entities import store as entities
from app.entities.store import EntityRow
from app.errors import UserError
from app.tasks.base import Record, TaskContext, TaskSpec
from app.tasks.outputs import OperationOutput, new_id, provenance

JOB_TYPE = "resume.optimize"


class OptimizeInput(CamelModel):
    resume_id: uuid.UUID
    job_posting_id: uuid.UUID


class OptimizeOutput(OperationOutput):
    optimization_id: uuid.UUID
    score: int
    optimization: Optimization


async def optimize_resume(ctx: TaskContext, data: OptimizeInput) -> OptimizeOutput:
    started = time.monotonic()
    services = ctx.use
    await ctx.progress(5, "Loading the resume and the posting")

    def load(connection: Connection) -> tuple[EntityRow | None, EntityRow | None]:
        return (
            entities.owned(connection, entities.resumes, ctx.user_id, data.resume_id),
            entities.owned(connection, entities.postings, ctx.user_id, data.job_posting_id),
        )

    resume_row, posting_row = await services.db.read(load)
    if resume_row is None:
        raise UserError("That resume no longer exists; parse it again.")
    if posting_row is None:
        raise UserError("That job posting no longer exists; import it again.")
    resume = Resume.model_validate(resume_row.data)
    posting = JobPosting.model_validate(posting_row.data)
    await ctx.progress(20, "Matching keywords and tailoring")
    async with ctx.token_meter() as meter:
        optimization = await services.ai.optimize(resume, posting, meter=meter)
    optimization = optimization.model_copy(
        update={"resume_id": data.resume_id, "job_posting_id": data.job_posting_id}
    )
    await ctx.progress(95, "Saving the optimization")
    return OptimizeOutput(
        optimization_id=new_id(),
        score=optimization.score,
        optimization=optimization,
        **provenance(optimization.meta, started),
    )


def record(connection: Connection, job: Record, output: OptimizeOutput) -> None:
    entities.keep(
        connection,
        entities.optimizations,
        "optimization",
        job,
        output.optimization_id,
        {
            "resume_id": output.optimization.resume_id,
            "job_posting_id": output.optimization.job_posting_id,
            "score": output.score,
            "data": output.optimization.model_dump(mode="json", by_alias=True),
        },
    )


SPEC = TaskSpec(
    name=JOB_TYPE,
    input_model=OptimizeInput,
    output_model=OptimizeOutput,
    run=optimize_resume,
    timeout_s=300.0,
    dedupe=lambda data: f"pair:{data.resume_id}:{data.job_posting_id}",
    record=record,
    uses_ai=True,
    description="Tailor a resume to a job posting and score the match.",
)
