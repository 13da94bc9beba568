"""Jobs: submit (diagnostic and extra types), read, list, cancel, retry, delete, live events."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, status
from sse_starlette import EventSourceResponse, ServerSentEvent

from app.deps import CurrentUser, Jobs, Submitter
from app.errors import Invalid
from app.jobs.status import JobStatus
from app.jobs.store import JobRow
from app.routes.submission import IdempotencyKey
from app.schemas import AttemptRead, JobDetail, JobPage, JobRead, JobSubmit

router = APIRouter(prefix="/api/jobs", tags=["jobs"])
log = logging.getLogger("atspro.sse")

TERMINAL_EVENTS = frozenset({"completed", "failed", "cancelled"})


ENTITY_PATHS = {
    "resume": "/api/resumes/{}",
    "jobPosting": "/api/job-postings/{}",
    "optimization": "/api/optimizations/{}",
}


def read(job: JobRow) -> JobRead:
    return JobRead.model_validate(job)


async def read_with_links(jobs: Jobs, rows: Sequence[JobRow]) -> list[JobRead]:
    """Jobs as the API shows them, each with links to what it made."""
    made = await jobs.entity_links([row.id for row in rows])
    result = []
    for row in rows:
        job = read(row)
        job.links = {
            kind: ENTITY_PATHS[kind].format(entity_id)
            for kind, entity_id in made.get(row.id, [])
            if kind in ENTITY_PATHS
        }
        result.append(job)
    return result


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=JobRead)
async def submit_job(
    body: JobSubmit, jobs: Jobs, user: Submitter, idempotency_key: IdempotencyKey = None
) -> JobRead:
    job = await jobs.submit(
        user.id,
        body.job_type,
        body.input_data,
        priority=body.priority,
        max_retries=body.max_retries,
        direct=True,
        idempotency_key=idempotency_key,
    )
    return read(job)


@router.get("", response_model=JobPage)
async def list_jobs(
    jobs: Jobs,
    user: CurrentUser,
    status_: Annotated[list[JobStatus], Query(alias="status")] = [],  # noqa: B006
    job_type: Annotated[list[str], Query(alias="jobType")] = [],  # noqa: B006
    created_after: Annotated[datetime | None, Query(alias="createdAfter")] = None,
    created_before: Annotated[datetime | None, Query(alias="createdBefore")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JobPage:
    items, next_cursor = await jobs.list(
        user.id,
        statuses=status_,
        job_types=job_type,
        created_after=created_after,
        created_before=created_before,
        cursor=cursor,
        limit=limit,
    )
    return JobPage(items=await read_with_links(jobs, items), next_cursor=next_cursor)


@router.get("/events", response_class=EventSourceResponse)
async def job_events(
    request: Request,
    jobs: Jobs,
    user: CurrentUser,
    job_id: Annotated[uuid.UUID | None, Query(alias="job_id")] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id_query: Annotated[
        str | None,
        Query(
            alias="lastEventId",
            description="Like Last-Event-ID, for a client that opens a new EventSource "
            "(which cannot set headers) after the browser gave up reconnecting",
        ),
    ] = None,
) -> EventSourceResponse:
    """Server-Sent Events: the caller's job changes as they happen.

    On connect: the current state first (or, with ``Last-Event-ID``, what was missed). With
    ``?job_id=`` the stream covers one job and ends after its terminal event.
    """
    after: int | None = None
    last_event_id = last_event_id if last_event_id is not None else last_event_id_query
    if last_event_id is not None:
        try:
            after = int(last_event_id)
        except ValueError:
            raise Invalid("Last-Event-ID must be an event id", field="Last-Event-ID") from None
    job = await jobs.get(user.id, job_id) if job_id else None  # 404 before the stream starts
    settings = request.app.state.container.settings
    return EventSourceResponse(
        _stream(jobs, user.id, job, after, settings.sse_poll_s),
        ping=int(settings.sse_ping_s),
        send_timeout=30,
        headers={"X-Accel-Buffering": "no", "Cache-Control": "no-cache"},
    )


async def _stream(
    jobs: Jobs, user_id: uuid.UUID, job: JobRow | None, after: int | None, poll_s: float
) -> AsyncIterator[ServerSentEvent]:
    """The stream, counted in ``atspro_sse_clients`` and logged as it opens and closes."""
    fields = {"user_id": str(user_id), "job_id": str(job.id) if job else None}
    jobs.metrics.sse_clients.inc()
    log.info("sse.connected", extra={**fields, "resumed": after is not None})
    try:
        async for message in _messages(jobs, user_id, job, after, poll_s):
            yield message
    finally:
        jobs.metrics.sse_clients.dec()
        log.info("sse.disconnected", extra=fields)


async def _messages(
    jobs: Jobs, user_id: uuid.UUID, job: JobRow | None, after: int | None, poll_s: float
) -> AsyncIterator[ServerSentEvent]:
    job_id = job.id if job else None
    async with jobs.bus.subscribe(user_id) as subscription:
        if after is None:
            after = await jobs.last_event_id(user_id, job_id)
            current = [job] if job else await jobs.active_jobs(user_id)
            for snapshot in current:
                fresh = await jobs.get(user_id, snapshot.id) if job else snapshot
                yield _message(
                    after, "snapshot", read(fresh).model_dump(mode="json", by_alias=True)
                )
                if job and JobStatus(fresh.status).is_terminal:
                    return
        elif job is not None:
            fresh = await jobs.get(user_id, job.id)
            if JobStatus(fresh.status).is_terminal and after >= await jobs.last_event_id(
                user_id, job.id
            ):
                return  # the client already saw the end
        while not subscription.closed:
            events = await jobs.events_after(user_id, after, job_id)
            for event in events:
                after = event.id
                yield _event(event)
                if job_id and event.type in TERMINAL_EVENTS:
                    return
            if not events:
                await subscription.wait(poll_s)


def _event(event: Any) -> ServerSentEvent:
    return _message(event.id, event.type, event.payload)


def _message(event_id: int, event_type: str, job: object) -> ServerSentEvent:
    return ServerSentEvent(
        id=str(event_id),
        event="job",
        data=json.dumps({"eventType": event_type, "job": job}, separators=(",", ":")),
    )


@router.get("/{job_id}", response_model=JobDetail)
async def get_job(job_id: uuid.UUID, jobs: Jobs, user: CurrentUser) -> JobDetail:
    """The job, with the history of its attempts."""
    [job] = await read_with_links(jobs, [await jobs.get(user.id, job_id)])
    history = [AttemptRead.model_validate(row) for row in await jobs.attempts(job_id)]
    return JobDetail(**dict(job), attempts=history)


@router.post("/{job_id}/cancel", response_model=JobRead)
async def cancel_job(job_id: uuid.UUID, jobs: Jobs, user: CurrentUser) -> JobRead:
    return read(await jobs.cancel(user.id, job_id))


@router.post("/{job_id}/retry", status_code=status.HTTP_202_ACCEPTED, response_model=JobRead)
async def retry_job(job_id: uuid.UUID, jobs: Jobs, user: Submitter) -> JobRead:
    return read(await jobs.retry(user.id, job_id))


@router.delete("/{job_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_job(job_id: uuid.UUID, jobs: Jobs, user: CurrentUser) -> None:
    await jobs.delete(user.id, job_id)
