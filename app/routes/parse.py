"""``PUT /api/parse``: upload a resume (PDF, DOCX, TXT, MD) to be parsed in the background."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import JSONResponse

from app.deps import Entities, Jobs, Submitter
from app.documents import detect_type
from app.errors import Invalid, TooLarge, UserError
from app.routes.submission import AsyncFlag, IdempotencyKey, answer
from app.schemas import JobRead
from app.tasks import resume

router = APIRouter(prefix="/api", tags=["operations"])

READ_CHUNK = 1024 * 1024


@router.put("/parse", status_code=202, response_model=JobRead)
async def parse(
    request: Request,
    file: Annotated[UploadFile, File(description="PDF, DOCX, TXT or MD")],
    jobs: Jobs,
    entities: Entities,
    user: Submitter,
    async_: AsyncFlag = True,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    settings = request.app.state.container.settings
    await jobs.ensure_budget(user.id, resume.JOB_TYPE)  # before the upload is stored
    limit = settings.max_upload_bytes
    data = bytearray()
    while chunk := await file.read(READ_CHUNK):
        data.extend(chunk)
        if len(data) > limit:
            raise TooLarge(f"The file is larger than {limit // (1024 * 1024)} MiB.", field="file")
    filename = (file.filename or "").strip()
    if not data:
        raise Invalid("The file is empty.", field="file")
    try:
        detect_type(filename, bytes(data[:8192]))  # refuse a wrong type now, not in the job
    except UserError as error:
        raise Invalid(error.message, field="file") from None
    upload_id, digest = await entities.store_upload(
        user.id, filename, file.content_type or "application/octet-stream", bytes(data)
    )
    job = await jobs.submit(
        user.id,
        resume.JOB_TYPE,
        {"uploadId": str(upload_id), "filename": filename, "sha256": digest},
        priority=3,
        idempotency_key=idempotency_key,
    )
    return await answer(job, jobs, user, wait=not async_, timeout_s=settings.sync_timeout_s)
