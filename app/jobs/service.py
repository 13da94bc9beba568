"""JobService: every change to a job, for routes, workers and recovery alike.

Each change is one short transaction: lock the row, check the transition table, write the row and
its event, commit; then wake the owner's SSE streams. Worker writes name the attempt they belong
to (fencing): a write for an older attempt, or for a job that was cancelled meanwhile, is a no-op
that tells the caller to stop.
"""

from __future__ import annotations

import logging
import math
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import anyio
import pydantic
from saq import Queue
from saq.job import TERMINAL_STATUSES, Status
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db import read_session_factory, session_factory, utcnow
from app.errors import Conflict, ErrorKind, Invalid, NotFound
from app.jobs import store
from app.jobs.events import EventBus
from app.jobs.running import RunningJobs
from app.jobs.status import InvalidTransition, JobAction, JobStatus, transition
from app.models import BackgroundJob, JobEvent
from app.settings import Settings
from app.tasks.registry import TaskRegistry

log = logging.getLogger("atspro.jobs")

QUEUE_NAMES = ("high", "default", "low")
# SAQ counts every delivery as an attempt, shutdowns and reaped workers included; our own table
# decides when a job has failed, so SAQ is told to keep trying until we say otherwise.
SAQ_ATTEMPTS = 1000
SAQ_RESULT_TTL_S = 3600


def queue_for(priority: int) -> str:
    """1-3 high, 4-7 default, 8-10 low: each queue has its own workers, so bulk work never
    starves what a user is waiting for."""
    if priority <= 3:
        return "high"
    if priority <= 7:
        return "default"
    return "low"


def backoff_delay(retry_count: int, base_s: float, max_s: float, minimum_s: float = 0.0) -> float:
    """Exponential backoff with equal jitter: half fixed, half random, capped at ``max_s``."""
    ceiling = min(max_s, base_s * (2**retry_count))
    jitter: float = random.uniform(0, ceiling / 2)  # noqa: S311 (not for security)
    return float(max(minimum_s, ceiling / 2 + jitter))


class JobService:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        queues: Mapping[str, Queue],
        bus: EventBus,
        registry: TaskRegistry,
        settings: Settings,
        running: RunningJobs | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = session_factory(engine)
        self._read_sessions = read_session_factory(engine)
        self.queues = queues
        self.bus = bus
        self.registry = registry
        self.settings = settings
        self.running = running or RunningJobs()
        self.clock = clock
        self._last_progress: dict[tuple[uuid.UUID, int], float] = {}

    # --- users' operations -------------------------------------------------------------------

    async def submit(
        self,
        user_id: uuid.UUID,
        job_type: str,
        input_data: Mapping[str, Any],
        *,
        priority: int = 5,
        max_retries: int | None = None,
        direct: bool = False,
    ) -> BackgroundJob:
        """Validate, store the job and its first event, commit, then enqueue (key = job id).

        A crash or queue outage between commit and enqueue leaves a pending row that the
        reconciler enqueues later, so an accepted job is never lost.
        """
        spec = self.registry.get(job_type)
        if direct and not spec.direct_submit:
            raise Invalid(f"job type {job_type!r} cannot be submitted directly", field="jobType")
        try:
            data = spec.input_model.model_validate(dict(input_data))
        except pydantic.ValidationError as error:
            raise Invalid(
                "inputData is not valid for this job type",
                field="inputData",
                errors=error.errors(include_url=False, include_context=False, include_input=False),
            ) from None
        now = self.clock()
        job = BackgroundJob(
            id=uuid.uuid4(),
            user_id=user_id,
            job_type=job_type,
            status=transition(None, JobAction.SUBMIT).value,
            priority=priority,
            queue=queue_for(priority),
            progress=0,
            input_data=data.model_dump(mode="json", by_alias=True),
            retry_count=0,
            max_retries=(
                max_retries
                if max_retries is not None
                else spec.max_retries
                if spec.max_retries is not None
                else self.settings.max_retries
            ),
            attempt=0,
            stall_count=0,
            created_at=now,
            updated_at=now,
        )
        async with self._write() as session:
            session.add(job)
            store.add_event(session, job, JobAction.SUBMIT.value)
        await self.bus.publish({user_id})
        await self.enqueue(job)
        log.info("job.enqueued", extra={"job_id": str(job.id), "job_type": job_type})
        return job

    async def get(self, user_id: uuid.UUID, job_id: uuid.UUID) -> BackgroundJob:
        async with self._read() as session:
            job = await session.get(BackgroundJob, job_id)
        if job is None or job.user_id != user_id:
            raise NotFound(f"job {job_id} not found")
        return job

    async def list(
        self, user_id: uuid.UUID, *, limit: int = 50, **filters: Any
    ) -> tuple[Sequence[BackgroundJob], str | None]:
        async with self._read() as session:
            result = await session.scalars(store.list_query(user_id, limit=limit + 1, **filters))
            jobs = result.all()
        if len(jobs) > limit:
            return jobs[:limit], store.encode_cursor(jobs[limit - 1])
        return jobs, None

    async def cancel(self, user_id: uuid.UUID, job_id: uuid.UUID) -> BackgroundJob:
        """Pending: taken off the queue. Running: its task is cancelled (here at once, in
        another process at the worker's next abort check or lease renewal)."""
        now = self.clock()

        def finish(job: BackgroundJob) -> None:
            job.completed_at = now
            job.error_kind = ErrorKind.CANCELLED.value
            job.error_message = "Cancelled by the user"
            job.lease_expires_at = None

        job = await self._user_change(user_id, job_id, JobAction.CANCEL, finish)
        self.running.cancel(job_id)
        await self._abort_queued(job, "cancelled by user")
        return job

    async def retry(self, user_id: uuid.UUID, job_id: uuid.UUID) -> BackgroundJob:
        """A failed or cancelled job runs again: a new attempt of the same job id."""

        def reset(job: BackgroundJob) -> None:
            job.retry_count = 0
            job.stall_count = 0
            job.progress = 0
            job.progress_message = None
            job.result_data = None
            job.error_message = job.error_kind = job.error_detail = None
            job.completed_at = None
            job.run_after = None

        job = await self._user_change(user_id, job_id, JobAction.MANUAL_RETRY, reset)
        await self.enqueue(job)
        return job

    async def delete(self, user_id: uuid.UUID, job_id: uuid.UUID) -> None:
        """Only finished jobs can be deleted: a pending or running one must be cancelled first."""
        async with self._write() as session:
            job = await store.lock_job(session, job_id)
            if job is None or job.user_id != user_id:
                raise NotFound(f"job {job_id} not found")
            if not JobStatus(job.status).is_terminal:
                raise Conflict(f"cannot delete a {job.status} job; cancel it first")
            await session.execute(delete(JobEvent).where(JobEvent.job_id == job_id))
            await session.delete(job)

    async def events_after(
        self, user_id: uuid.UUID, after_id: int, job_id: uuid.UUID | None = None
    ) -> Sequence[JobEvent]:
        async with self._read() as session:
            return await store.events_after(session, user_id, after_id, job_id=job_id)

    async def last_event_id(self, user_id: uuid.UUID, job_id: uuid.UUID | None = None) -> int:
        async with self._read() as session:
            return await store.last_event_id(session, user_id, job_id)

    async def active_jobs(self, user_id: uuid.UUID) -> Sequence[BackgroundJob]:
        async with self._read() as session:
            result = await session.execute(
                select(BackgroundJob)
                .where(
                    BackgroundJob.user_id == user_id,
                    BackgroundJob.status.in_([JobStatus.PENDING.value, JobStatus.RUNNING.value]),
                )
                .order_by(BackgroundJob.created_at)
                .limit(500)
            )
            return result.scalars().all()

    # --- workers' operations (fenced by attempt) ---------------------------------------------

    async def start(self, job_id: uuid.UUID, *, worker_id: str) -> BackgroundJob | None:
        """Claim the job for a new attempt; None if it must not run (cancelled, done, or
        running elsewhere with a live lease)."""
        now = self.clock()
        async with self._write() as session:
            job = await store.lock_job(session, job_id)
            if job is None:
                return None
            # A worker that died without a word: this delivery takes over, counting a stall.
            if self._lease_expired(job, now) and not self._record_stall(session, job, now):
                await session.commit()
                await self.bus.publish({job.user_id})
                return None
            if job.status != JobStatus.PENDING.value:
                return None
            job.status = transition(JobStatus.PENDING, JobAction.START).value
            job.attempt += 1
            job.started_at = now
            job.updated_at = now
            job.lease_expires_at = now + timedelta(seconds=self.settings.lease_s)
            job.worker_id = worker_id
            job.progress = 0
            job.progress_message = "Started"
            job.run_after = None
            store.add_event(session, job, JobAction.START.value)
        await self.bus.publish({job.user_id})
        return job

    async def progress(
        self, job_id: uuid.UUID, attempt: int, percent: int, message: str | None, *, now_s: float
    ) -> bool:
        """Record progress (throttled). False when this attempt may no longer write: stop."""
        key = (job_id, attempt)
        last = self._last_progress.get(key)
        if last is not None and now_s - last < self.settings.progress_event_interval_s:
            return True
        self._last_progress[key] = now_s

        def apply(job: BackgroundJob) -> None:
            job.progress = max(job.progress, percent)
            job.progress_message = message
            job.lease_expires_at = self.clock() + timedelta(seconds=self.settings.lease_s)

        return await self._worker_change(job_id, attempt, JobAction.PROGRESS, apply) is not None

    async def renew_lease(self, job_id: uuid.UUID, attempt: int) -> bool:
        """Heartbeat without an event. False when the attempt was cancelled or taken over."""
        async with self._write() as session:
            job = await store.lock_job(session, job_id)
            if job is None or job.attempt != attempt or job.status != JobStatus.RUNNING.value:
                return False
            job.lease_expires_at = self.clock() + timedelta(seconds=self.settings.lease_s)
            return True

    async def complete(
        self, job_id: uuid.UUID, attempt: int, result: dict[str, Any]
    ) -> BackgroundJob | None:
        now = self.clock()

        def apply(job: BackgroundJob) -> None:
            job.result_data = result
            job.progress = 100
            job.progress_message = "Completed"
            job.completed_at = now
            job.lease_expires_at = None
            job.error_message = job.error_kind = None

        return await self._worker_change(job_id, attempt, JobAction.COMPLETE, apply)

    async def fail(
        self, job_id: uuid.UUID, attempt: int, kind: ErrorKind, message: str, detail: str | None
    ) -> BackgroundJob | None:
        now = self.clock()

        def apply(job: BackgroundJob) -> None:
            job.error_kind = kind.value
            job.error_message = message
            job.error_detail = detail
            job.completed_at = now
            job.lease_expires_at = None

        return await self._worker_change(job_id, attempt, JobAction.FAIL, apply)

    async def schedule_retry(
        self, job_id: uuid.UUID, attempt: int, message: str, detail: str | None, delay_s: float
    ) -> BackgroundJob | None:
        now = self.clock()

        def apply(job: BackgroundJob) -> None:
            job.retry_count += 1
            job.error_kind = ErrorKind.TRANSIENT.value
            job.error_message = message
            job.error_detail = detail
            job.progress_message = f"Retrying in {math.ceil(delay_s)} s"
            job.run_after = now + timedelta(seconds=delay_s)
            job.lease_expires_at = None

        return await self._worker_change(job_id, attempt, JobAction.RETRY, apply)

    async def requeue(self, job_id: uuid.UUID, attempt: int) -> BackgroundJob | None:
        """Back to pending without spending a retry (shutdown interrupted the attempt)."""

        def apply(job: BackgroundJob) -> None:
            job.progress_message = "Waiting for a worker (interrupted by a restart)"
            job.lease_expires_at = None

        return await self._worker_change(job_id, attempt, JobAction.REQUEUE, apply)

    def retry_delay(self, job: BackgroundJob, minimum_s: float | None) -> float:
        return backoff_delay(
            job.retry_count,
            self.settings.retry_base_delay_s,
            self.settings.retry_max_delay_s,
            minimum_s or 0.0,
        )

    # --- recovery ----------------------------------------------------------------------------

    async def reap_expired(self) -> int:
        """Running jobs whose worker stopped renewing its lease go back to the queue (no retry
        spent), or fail once they have stalled ``max_stalls`` times."""
        now = self.clock()
        async with self._read() as session:
            job_ids = await store.expired_leases(session, now)
        reaped = 0
        for job_id in job_ids:
            async with self._write() as session:
                job = await store.lock_job(session, job_id)
                if job is None or not self._lease_expired(job, now):
                    continue
                requeued = self._record_stall(session, job, now)
            await self.bus.publish({job.user_id})
            reaped += 1
            log.warning("job.reaped", extra={"job_id": str(job_id), "attempt": job.attempt})
            if requeued:
                await self.enqueue(job, replace_active=True)
        return reaped

    async def reconcile(self, older_than_s: float = 10.0) -> int:
        """Enqueue pending jobs that their queue does not hold (lost between commit and enqueue,
        or a queue that lost its data)."""
        before = self.clock() - timedelta(seconds=older_than_s)
        after_id: uuid.UUID | None = None
        fixed = 0
        while True:
            async with self._read() as session:
                jobs = await store.pending_before(session, before, after_id)
            if not jobs:
                return fixed
            after_id = jobs[-1].id
            for name, queue in self.queues.items():
                batch = [job for job in jobs if job.queue == name]
                if not batch:
                    continue
                held = await queue.jobs([str(job.id) for job in batch])
                for job, saq_job in zip(batch, held, strict=True):
                    if saq_job is None or saq_job.status in TERMINAL_STATUSES:
                        fixed += int(await self.enqueue(job))

    async def enqueue(self, job: BackgroundJob, *, replace_active: bool = False) -> bool:
        """Put the job on its queue, keyed by its id (so enqueueing twice is harmless).

        ``replace_active`` first finishes a queue entry still marked active by a dead worker.
        Errors are logged, not raised: the row is committed and the reconciler will retry.
        """
        queue = self.queues[job.queue]
        key = str(job.id)
        try:
            if replace_active:
                stale = await queue.job(key)
                if stale is not None and stale.status in (Status.ACTIVE, Status.ABORTING):
                    await queue.finish(stale, Status.ABORTED, error="worker lost")
            spec = self.registry.get(job.job_type)
            scheduled = math.ceil(job.run_after.timestamp()) if job.run_after else 0
            saq_job = await queue.enqueue(
                job.job_type,
                key=key,
                job_id=key,
                timeout=int(spec.timeout_s) + 60,
                retries=SAQ_ATTEMPTS,
                ttl=SAQ_RESULT_TTL_S,
                priority=job.priority,
                scheduled=scheduled,
            )
        except Exception:
            log.exception("job.enqueue_failed", extra={"job_id": key})
            return False
        return saq_job is not None

    # --- internals ---------------------------------------------------------------------------

    async def _abort_queued(self, job: BackgroundJob, reason: str) -> None:
        """Take a cancelled job off its queue (a worker elsewhere sees the abort within ~1 s)."""
        queue = self.queues[job.queue]
        try:
            saq_job = await queue.job(str(job.id))
            if saq_job is not None and saq_job.status not in TERMINAL_STATUSES:
                await queue.abort(saq_job, reason)
        except Exception:
            # The row already says cancelled; a worker that starts it anyway finds that out.
            log.exception("job.abort_failed", extra={"job_id": str(job.id)})

    def _write(self) -> _Transaction:
        return _Transaction(self._sessions)

    def _read(self) -> AsyncSession:
        return self._read_sessions()

    def _lease_expired(self, job: BackgroundJob, now: datetime) -> bool:
        return (
            job.status == JobStatus.RUNNING.value
            and job.lease_expires_at is not None
            and job.lease_expires_at < now
        )

    def _record_stall(self, session: AsyncSession, job: BackgroundJob, now: datetime) -> bool:
        """Count a lost worker. True: back to pending; False: failed for good."""
        job.stall_count += 1
        job.lease_expires_at = None
        job.updated_at = now
        if job.stall_count >= self.settings.max_stalls:
            job.status = transition(JobStatus.RUNNING, JobAction.FAIL).value
            job.error_kind = ErrorKind.INTERNAL.value
            job.error_message = (
                f"The job stopped its worker {job.stall_count} times and was given up."
            )
            job.completed_at = now
            store.add_event(session, job, JobAction.FAIL.value)
            return False
        job.status = transition(JobStatus.RUNNING, JobAction.REQUEUE).value
        job.progress_message = "Waiting for a worker (the previous one stopped)"
        store.add_event(session, job, JobAction.REQUEUE.value)
        return True

    async def _user_change(
        self,
        user_id: uuid.UUID,
        job_id: uuid.UUID,
        action: JobAction,
        apply: Callable[[BackgroundJob], None],
    ) -> BackgroundJob:
        async with self._write() as session:
            job = await store.lock_job(session, job_id)
            if job is None or job.user_id != user_id:
                raise NotFound(f"job {job_id} not found")
            try:
                job.status = transition(JobStatus(job.status), action).value
            except InvalidTransition as error:
                raise Conflict(str(error), jobStatus=job.status) from None
            job.updated_at = self.clock()
            apply(job)
            store.add_event(session, job, action.value)
        await self.bus.publish({user_id})
        return job

    async def _worker_change(
        self,
        job_id: uuid.UUID,
        attempt: int,
        action: JobAction,
        apply: Callable[[BackgroundJob], None],
    ) -> BackgroundJob | None:
        async with self._write() as session:
            job = await store.lock_job(session, job_id)
            if job is None or job.attempt != attempt or job.status != JobStatus.RUNNING.value:
                return None
            job.status = transition(JobStatus.RUNNING, action).value
            job.updated_at = self.clock()
            apply(job)
            store.add_event(session, job, action.value)
        if action is not JobAction.PROGRESS:
            self._last_progress.pop((job_id, attempt), None)
        await self.bus.publish({job.user_id})
        return job


class _Transaction:
    """``async with`` a session inside a write transaction (SQLite: BEGIN IMMEDIATE)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._session = sessions()

    async def __aenter__(self) -> AsyncSession:
        await self._session.begin()
        return self._session

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        # Shielded: a cancelled task must still commit or roll back, or SQLite stays locked.
        with anyio.CancelScope(shield=True):
            try:
                if exc_type is None and self._session.in_transaction():
                    await self._session.commit()
                else:
                    await self._session.rollback()
            finally:
                await self._session.close()
