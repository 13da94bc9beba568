"""JobService: every change to a job, for routes, workers and recovery alike.

Each change is one compare-and-set whose WHERE clause comes from the transition table (the
statuses the action is allowed from), written with its event in one transaction; then the owner's
SSE streams are woken. Worker writes name the attempt they belong to (fencing): a write for an
older attempt, or for a job that was cancelled meanwhile, matches nothing and tells the caller to
stop. On SQLite, the starts and completions that workers ask for at the same moment share one
transaction (``_write_together``): still one compare-and-set per job, but one statement for all
their events (and no attempt rows: see app/jobs/attempts.py).
"""

from __future__ import annotations

import logging
import math
import random
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import anyio
import pydantic
from saq import Queue
from saq.job import TERMINAL_STATUSES, Status
from sqlalchemy import Row
from sqlalchemy.engine import Connection

from app.batcher import Batcher
from app.budget import TokenBudget
from app.db import Database, utcnow
from app.errors import Conflict, ErrorKind, Invalid, NotFound
from app.ids import uuid7
from app.jobs import attempts, store
from app.jobs.attempts import Outcome
from app.jobs.events import EventBus
from app.jobs.running import RunningJobs
from app.jobs.status import JobAction, JobStatus, sources, target, transition
from app.jobs.store import (
    LEASE_EXPIRED,
    NEXT_ATTEMPT,
    NEXT_RETRY,
    NEXT_STALL,
    RAISE_PROGRESS,
    STALLS_LEFT,
    JobRow,
)
from app.lookups import BatchLookup
from app.metrics import Metrics
from app.queues.statuses import statuses
from app.settings import Settings
from app.tasks.registry import TaskRegistry

log = logging.getLogger("atspro.jobs")

QUEUE_NAMES = ("high", "default", "low")
# SAQ counts every delivery as an attempt, shutdowns and reaped workers included; our own table
# decides when a job has failed, so SAQ is told to keep trying until we say otherwise.
SAQ_ATTEMPTS = 1000
SAQ_RESULT_TTL_S = 3600
IDEMPOTENCY_WINDOW = timedelta(hours=24)
FAIR_SHARE_DELAY_S = 1.0  # a job over its user's running cap looks again after about this long


# More rows written in a status change's transaction (what a job made, an audit entry).
Effect = Callable[[Connection, JobRow], None]

# How a worker's status change ends its attempt (progress does not end it; a completed attempt
# is read from its job's row, see app/jobs/attempts.py).
ATTEMPT_OUTCOMES = {
    JobAction.FAIL: Outcome.FAILED,
    JobAction.RETRY: Outcome.RETRY_SCHEDULED,
    JobAction.REQUEUE: Outcome.REQUEUED,
}


@dataclass(frozen=True, slots=True)
class _Start:
    """Jobs a worker claimed from its queue (``JobService.start_many``)."""

    job_ids: tuple[uuid.UUID, ...]
    worker_id: str


@dataclass(frozen=True, slots=True)
class _Completion:
    """One attempt that returned (``JobService.complete``)."""

    job_id: uuid.UUID
    attempt: int
    result: dict[str, Any]
    effect: Effect | None
    started: JobRow | None = None  # the row as this attempt started (see ``complete``)


# What a stream asks for: (user id, after event id, job id or None).
_EventsAfter = tuple[uuid.UUID, int, uuid.UUID | None]


@dataclass(frozen=True)
class Deferred:
    """The job may not start yet (its user is at the running cap): try again after a delay."""

    delay_s: float


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
        db: Database,
        queues: Mapping[str, Queue],
        bus: EventBus,
        registry: TaskRegistry,
        settings: Settings,
        running: RunningJobs | None = None,
        clock: Callable[[], datetime] = utcnow,
        metrics: Metrics | None = None,
        budget: TokenBudget | None = None,
    ) -> None:
        self.db = db
        self.budget = budget
        self.metrics = metrics or Metrics()
        self.queues = queues
        self.bus = bus
        self.registry = registry
        self.settings = settings
        self.running = running or RunningJobs()
        self.clock = clock
        self._last_progress: dict[tuple[uuid.UUID, int], float] = {}
        # What workers write about their jobs (starts, completions), written together.
        # Not on PostgreSQL: each change takes its user's advisory lock (``store.order_events``),
        # and a transaction holding several users' locks could deadlock with another process's.
        self._worker_writes: Batcher[_Start | _Completion, Any] | None = (
            Batcher(self._write_together) if db.dialect == "sqlite" else None
        )
        # Event streams woken together (a commit wakes every user it touched) read together.
        self._event_reads: BatchLookup[_EventsAfter, Sequence[Row[Any]]] = BatchLookup(
            self._read_events, missing=()
        )

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
        idempotency_key: str | None = None,
    ) -> JobRow:
        """Validate, store the job and its first event, commit, then enqueue (key = job id).

        A crash or queue outage between commit and enqueue leaves a pending row that the
        reconciler enqueues later, so an accepted job is never lost. A repeated
        ``idempotency_key`` (24 h) or an identical job still pending or running (the task's
        ``dedupe``) returns that job instead of a new one.
        """
        spec = self.registry.get(job_type)
        if direct and not spec.direct_submit:
            raise Invalid(f"job type {job_type!r} cannot be submitted directly", field="jobType")
        await self.ensure_budget(user_id, job_type)
        try:
            data = spec.input_model.model_validate(dict(input_data))
        except pydantic.ValidationError as error:
            raise Invalid(
                "inputData is not valid for this job type",
                field="inputData",
                errors=error.errors(include_url=False, include_context=False, include_input=False),
            ) from None
        if max_retries is None:
            max_retries = (
                spec.max_retries if spec.max_retries is not None else self.settings.max_retries
            )
        now = self.clock()
        dedupe_key = spec.dedupe(data) if spec.dedupe else None
        values = {
            "id": uuid7(),
            "user_id": user_id,
            "job_type": job_type,
            "status": transition(None, JobAction.SUBMIT).value,
            "priority": priority,
            "queue": queue_for(priority),
            "progress": 0,
            "input_data": data.model_dump(mode="json", by_alias=True),
            "retry_count": 0,
            "max_retries": max_retries,
            "attempt": 0,
            "stall_count": 0,
            "dedupe_key": dedupe_key,
            "idempotency_key": idempotency_key,
            "created_at": now,
            "updated_at": now,
        }

        def create(connection: Connection) -> tuple[JobRow, bool]:
            if idempotency_key is not None or dedupe_key is not None:
                store.serialize_user(connection, user_id)
            existing = store.reusable(
                connection,
                user_id,
                idempotency_key=idempotency_key,
                idempotent_since=now - IDEMPOTENCY_WINDOW,
                job_type=job_type,
                dedupe_key=dedupe_key,
            )
            if existing is not None:
                if existing.job_type != job_type:
                    raise Conflict(
                        "this Idempotency-Key was already used for another kind of job",
                        field="Idempotency-Key",
                    )
                return existing, False
            return store.insert_job(connection, values, JobAction.SUBMIT.value), True

        job, created = await self.db.write(create)
        if not created:
            return job
        self.metrics.job("submitted", job_type)
        await self.bus.publish({user_id})
        await self.enqueue(job)
        log.info(
            "job.enqueued",
            extra={
                "job_id": str(job.id),
                "job_type": job_type,
                "user_id": str(user_id),
                "queue": job.queue,
                "priority": priority,
            },
        )
        return job

    async def ensure_budget(self, user_id: uuid.UUID, job_type: str) -> None:
        """An AI job of a user who has used today's token allowance is refused (429 with
        Retry-After until the allowance resets); other job types always pass."""
        if self.budget is not None and self.registry.get(job_type).uses_ai:
            await self.budget.ensure_available(user_id)

    async def get(self, user_id: uuid.UUID, job_id: uuid.UUID) -> JobRow:
        job = await self.db.read(lambda c: store.get(c, job_id))
        if job is None or job.user_id != user_id:
            raise NotFound(f"job {job_id} not found")
        return job

    async def attempts(self, job_id: uuid.UUID) -> list[attempts.Attempt]:
        """The job's attempts, oldest first (for a job the caller already owns)."""
        return await self.db.read(lambda c: attempts.for_jobs(c, [job_id]))

    async def entity_links(
        self, job_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[tuple[str, uuid.UUID]]]:
        """What each job made (for jobs the caller already owns)."""
        return await self.db.read(lambda c: store.entity_links(c, job_ids))

    async def list(
        self, user_id: uuid.UUID, *, limit: int = 50, **filters: Any
    ) -> tuple[Sequence[JobRow], str | None]:
        query = store.list_query(user_id, limit=limit + 1, **filters)
        found = await self.db.read(lambda c: c.execute(query).all())
        if len(found) > limit:
            return found[:limit], store.encode_cursor(found[limit - 1])
        return found, None

    async def cancel(
        self, user_id: uuid.UUID, job_id: uuid.UUID, *, also: Effect | None = None
    ) -> JobRow:
        """Pending: taken off the queue. Running: its task is cancelled (here at once, in
        another process at the worker's next abort check or lease renewal). ``also`` is
        written in the same transaction (an admin's audit entry)."""
        now = self.clock()

        def close_attempt(connection: Connection, job: JobRow) -> None:
            attempts.close_attempt(connection, job, Outcome.CANCELLED, now)
            if also is not None:
                also(connection, job)

        job = await self._user_change(
            user_id,
            job_id,
            JobAction.CANCEL,
            {
                "completed_at": now,
                "error_kind": ErrorKind.CANCELLED.value,
                "error_message": "Cancelled by the user",
                "lease_expires_at": None,
            },
            effect=close_attempt,
        )
        self.running.cancel(job_id)
        self.metrics.job("cancelled", job.job_type)
        log.info(
            "job.cancelled",
            extra={
                "job_id": str(job_id),
                "job_type": job.job_type,
                "user_id": str(user_id),
                "attempt": job.attempt,
                "by": "user",
            },
        )
        await self._abort_queued(job, "cancelled by user")
        return job

    async def retry(
        self,
        user_id: uuid.UUID,
        job_id: uuid.UUID,
        *,
        also: Effect | None = None,
        check_budget: bool = True,
    ) -> JobRow:
        """A failed or cancelled job runs again: a new attempt of the same job id. ``also`` is
        written in the same transaction (an admin's audit entry). A user over their token
        allowance cannot retry an AI job (an admin can: the job then fails ``over_budget``)."""
        if check_budget and self.budget is not None and self.budget.limited:
            await self.ensure_budget(user_id, (await self.get(user_id, job_id)).job_type)
        job = await self._user_change(
            user_id,
            job_id,
            JobAction.MANUAL_RETRY,
            {
                "retry_count": 0,
                "stall_count": 0,
                "progress": 0,
                "progress_message": None,
                "result_data": None,
                "error_message": None,
                "error_kind": None,
                "error_detail": None,
                "completed_at": None,
                "run_after": None,
            },
            effect=also,
        )
        await self.enqueue(job)
        return job

    async def delete(self, user_id: uuid.UUID, job_id: uuid.UUID) -> None:
        """Only finished jobs can be deleted: a pending or running one must be cancelled first."""

        def remove(connection: Connection) -> None:
            job = store.get(connection, job_id)
            if job is None or job.user_id != user_id:
                raise NotFound(f"job {job_id} not found")
            if not JobStatus(job.status).is_terminal:
                raise Conflict(f"cannot delete a {job.status} job; cancel it first")
            store.remove(connection, job_id)

        await self.db.write(remove)

    async def wait_until_finished(
        self, user_id: uuid.UUID, job_id: uuid.UUID, timeout_s: float
    ) -> JobRow:
        """The job once it is terminal, or as it is when ``timeout_s`` runs out (for callers
        of the deprecated synchronous API)."""
        async with self.bus.subscribe(user_id) as subscription:
            with anyio.move_on_after(timeout_s):
                while True:
                    job = await self.get(user_id, job_id)
                    if JobStatus(job.status).is_terminal:
                        return job
                    await subscription.wait(self.settings.sse_poll_s)
        return await self.get(user_id, job_id)

    async def events_after(
        self, user_id: uuid.UUID, after_id: int, job_id: uuid.UUID | None = None
    ) -> Sequence[Row[Any]]:
        """The user's events after ``after_id`` (of one job, when given), oldest first. Asked
        in the same loop iteration by several streams, they are read in one transaction: one
        hand-off to a reader thread instead of one per stream (bench/PROFILE.md, 1,000 SSE
        clients), and streams asking the same are served by one query."""
        return await self._event_reads.get((user_id, after_id, job_id))

    async def _read_events(
        self, wanted: Sequence[_EventsAfter]
    ) -> dict[_EventsAfter, Sequence[Row[Any]]]:
        def read(connection: Connection) -> dict[_EventsAfter, Sequence[Row[Any]]]:
            return {
                key: store.events_after(connection, key[0], key[1], job_id=key[2]) for key in wanted
            }

        return await self.db.read(read)

    async def last_event_id(self, user_id: uuid.UUID, job_id: uuid.UUID | None = None) -> int:
        return await self.db.read(lambda c: store.last_event_id(c, user_id, job_id))

    async def active_jobs(self, user_id: uuid.UUID) -> Sequence[JobRow]:
        return await self.db.read(lambda c: store.active_jobs(c, user_id))

    # --- workers' operations (fenced by attempt) ---------------------------------------------

    async def start(self, job_id: uuid.UUID, *, worker_id: str) -> JobRow | Deferred | None:
        """Claim the job for a new attempt; None if it must not run (cancelled, done, or
        running elsewhere with a live lease); Deferred if its user is at the running cap."""
        return (await self.start_many([job_id], worker_id=worker_id))[0]

    async def start_many(
        self, job_ids: Sequence[uuid.UUID], *, worker_id: str
    ) -> Sequence[JobRow | Deferred | None]:
        """``start`` for each job, in one transaction with what other workers of this process
        write at the same moment (``_write_together``)."""
        if self._worker_writes is None:  # PostgreSQL: a transaction per job (see __init__)
            return [
                (await self._write_together([_Start((job_id,), worker_id)]))[0][0]
                for job_id in job_ids
            ]
        started: Sequence[JobRow | Deferred | None] = await self._worker_writes(
            _Start(tuple(job_ids), worker_id)
        )
        return started

    def _started(self, job: JobRow | Deferred | None, now: datetime) -> JobRow | Deferred | None:
        """What a claim means for the worker: the row to run, or None (nothing to run)."""
        if job is None or isinstance(job, Deferred):
            return job
        if job.status != JobStatus.RUNNING.value:
            if job.status == JobStatus.FAILED.value:
                self.metrics.job("failed", job.job_type)  # stalled too often
            return None
        self.metrics.started(job.job_type, job.attempt, job.created_at, now)
        return job

    def _claim(
        self, connection: Connection, job_id: uuid.UUID, values: dict[str, Any], now: datetime
    ) -> JobRow | Deferred | None:
        deferred = self._over_running_cap(connection, job_id, now)
        if deferred is not None:
            return deferred

        def start() -> JobRow | None:
            # Its event is written with the others' (``start_many``).
            return store.change(
                connection,
                job_id,
                sources=sources(JobAction.START),
                values=values,
                event_type=None,
                now=now,
            )

        job = start()
        if job is None:
            # A worker that died without a word: this delivery takes over, counting a stall.
            stalled = self._record_stall(connection, job_id, now)
            if stalled is None or stalled.status != JobStatus.PENDING.value:
                return stalled  # not startable, or failed for good
            job = start()
        return job

    def _over_running_cap(
        self, connection: Connection, job_id: uuid.UUID, now: datetime
    ) -> Deferred | None:
        """Fair share: a pending job whose user already runs ``max_running_per_user`` jobs
        waits (no attempt spent), so one user's flood cannot hold every worker. Atomic on
        SQLite (one writer); on PostgreSQL the user's row lock orders the claims."""
        cap = self.settings.max_running_per_user
        if not cap:
            return None
        job = store.get(connection, job_id)
        if job is None or job.status != JobStatus.PENDING.value:
            return None
        store.serialize_user(connection, job.user_id)
        if store.running_count(connection, job.user_id) < cap:
            return None
        delay = FAIR_SHARE_DELAY_S * random.uniform(1.0, 1.5)  # noqa: S311 (jitter)
        store.change(
            connection,
            job_id,
            sources={JobStatus.PENDING},
            values={
                "progress_message": f"Waiting: {cap} of your jobs are already running",
                "run_after": now + timedelta(seconds=delay),
            },
            event_type=None,
            now=now,
        )
        return Deferred(delay)

    async def progress(
        self, job_id: uuid.UUID, attempt: int, percent: int, message: str | None, *, now_s: float
    ) -> bool:
        """Record progress (throttled). False when this attempt may no longer write: stop."""
        key = (job_id, attempt)
        last = self._last_progress.get(key)
        if last is not None and now_s - last < self.settings.progress_event_interval_s:
            return True
        self._last_progress[key] = now_s
        now = self.clock()
        values = {
            "progress": RAISE_PROGRESS,
            "progress_message": message,
            "lease_expires_at": now + timedelta(seconds=self.settings.lease_s),
        }
        changed = await self._worker_change(
            job_id, attempt, JobAction.PROGRESS, values, params={"w_percent": percent}
        )
        if changed is None:
            return False
        if log.isEnabledFor(logging.DEBUG):  # one line per throttled update: debug only
            log.debug("job.progress", extra={"progress": percent, "step": message})
        return True

    async def renew_lease(self, job_id: uuid.UUID, attempt: int) -> bool:
        """Heartbeat without an event. False when the attempt was cancelled or taken over."""
        return (job_id, attempt) in await self.renew_leases([(job_id, attempt)])

    async def renew_leases(
        self, running: Collection[tuple[uuid.UUID, int]]
    ) -> set[tuple[uuid.UUID, int]]:
        """Extend the leases of these (job, attempt) pairs in one write; those still running
        that attempt. The others were cancelled or taken over: their workers must stop."""
        if not running:
            return set()
        now = self.clock()
        lease = now + timedelta(seconds=self.settings.lease_s)
        return await self.db.write(lambda c: store.renew_leases(c, running, lease, now))

    async def complete(
        self,
        job_id: uuid.UUID,
        attempt: int,
        result: dict[str, Any],
        effect: Effect | None = None,
        *,
        started: JobRow | None = None,
    ) -> JobRow | None:
        """Mark the attempt completed; ``effect`` (what the job made) is written in the same
        transaction, and only if this attempt still owns the job. Jobs completing at the same
        moment are written together (``_write_together``). A worker passes the row ``start``
        gave it as ``started``: on SQLite the completed rows are then made from those instead
        of being read back (``store.change_held``)."""
        if started is not None and (started.id, started.attempt) != (job_id, attempt):
            raise ValueError("started is another attempt's row")
        item = _Completion(job_id, attempt, result, effect, started)
        if self._worker_writes is None:
            return (await self._write_together([item]))[0]
        completed: JobRow | None = await self._worker_writes(item)
        return completed

    async def _write_together(self, items: Sequence[_Start | _Completion]) -> Sequence[Any]:
        """Completions and starts that this process's workers asked for at the same moment, in
        one transaction: a status change per job, then one statement for all the events of a
        kind. Completions go first, so a user at the running cap can start the next job in the
        same transaction."""
        now = self.clock()
        completion_values = {
            "status": transition(JobStatus.RUNNING, JobAction.COMPLETE).value,
            "result_data": None,
            "progress": 100,
            "progress_message": "Completed",
            "completed_at": now,
            "lease_expires_at": None,
            "error_message": None,
            "error_kind": None,
        }
        lease = now + timedelta(seconds=self.settings.lease_s)

        def complete(connection: Connection, item: _Completion) -> JobRow | None:
            job = store.change(
                connection,
                item.job_id,
                sources={JobStatus.RUNNING},
                values={**completion_values, "result_data": item.result},
                event_type=None,
                now=now,
                attempt=item.attempt,
            )
            if job is not None and item.effect is not None:
                item.effect(connection, job)
            return job

        def start(connection: Connection, item: _Start) -> list[JobRow | Deferred | None]:
            values = {
                "status": transition(JobStatus.PENDING, JobAction.START).value,
                "attempt": NEXT_ATTEMPT,
                "started_at": now,
                "lease_expires_at": lease,
                "worker_id": item.worker_id,
                "progress": 0,
                "progress_message": "Started",
                "run_after": None,
            }
            job_ids = item.job_ids
            if self.settings.max_running_per_user or len(set(job_ids)) < 2:
                return [self._claim(connection, job_id, values, now) for job_id in job_ids]
            # One statement for the group; a job it did not start (cancelled, finished, or
            # running on another delivery) takes the single-job path, which handles stalls.
            claimed = store.change_many(
                connection, job_ids, sources=sources(JobAction.START), values=values, now=now
            )
            return [
                claimed.get(job_id) or self._claim(connection, job_id, values, now)
                for job_id in job_ids
            ]

        def complete_held(
            connection: Connection, held: dict[int, _Completion]
        ) -> dict[int, JobRow]:
            """Completions whose started row the worker holds, in one statement (SQLite): the
            completed rows by index; none if any attempt no longer owns its job."""
            if not held or connection.dialect.name != "sqlite":
                return {}
            completed = store.change_held(
                connection,
                [item.started for item in held.values()],
                source=JobStatus.RUNNING,
                values=[
                    {**completion_values, "result_data": item.result} for item in held.values()
                ],
                now=now,
            )
            if completed is None:
                return {}
            for item, job in zip(held.values(), completed, strict=True):
                if item.effect is not None:
                    item.effect(connection, job)
            return dict(zip(held, completed, strict=True))

        def apply(connection: Connection) -> list[Any]:
            held = {
                index: item
                for index, item in enumerate(items)
                if isinstance(item, _Completion) and item.started is not None
            }
            results: list[Any] = [None] * len(items)
            written = complete_held(connection, held)
            for index, item in enumerate(items):
                if isinstance(item, _Completion):
                    job = written.get(index)
                    results[index] = job if job is not None else complete(connection, item)
            for index, item in enumerate(items):
                if isinstance(item, _Start):
                    results[index] = start(connection, item)
            completed = [
                job
                for item, job in zip(items, results, strict=True)
                if isinstance(item, _Completion) and job is not None
            ]
            started = [
                job
                for item, claimed in zip(items, results, strict=True)
                if isinstance(item, _Start)
                for job in claimed
                if job is not None
                and not isinstance(job, Deferred)
                and job.status == JobStatus.RUNNING.value
            ]
            # No attempt rows: a started or completed attempt is read from its job's row.
            store.add_events(connection, completed, JobAction.COMPLETE.value, now)
            store.add_events(connection, started, JobAction.START.value, now)
            return results

        results = await self.db.write(apply)
        owners: set[uuid.UUID] = set()
        for index, (item, result) in enumerate(zip(items, results, strict=True)):
            if isinstance(item, _Completion):
                self._last_progress.pop((item.job_id, item.attempt), None)
                if result is not None:
                    owners.add(result.user_id)
                    self.metrics.finished(
                        result.job_type, "completed", result.started_at, result.completed_at
                    )
            else:
                owners.update(
                    job.user_id for job in result if job and not isinstance(job, Deferred)
                )
                results[index] = [self._started(job, now) for job in result]
        if owners:
            await self.bus.publish(owners)
        return results

    async def aclose(self) -> None:
        """Wait for writes still being made for callers (before the database closes)."""
        if self._worker_writes is not None:
            await self._worker_writes.aclose()

    async def fail(
        self, job_id: uuid.UUID, attempt: int, kind: ErrorKind, message: str, detail: str | None
    ) -> JobRow | None:
        values = {
            "error_kind": kind.value,
            "error_message": attempts.redact(message),
            "error_detail": attempts.redact(detail),
            "completed_at": self.clock(),
            "lease_expires_at": None,
        }
        job = await self._worker_change(job_id, attempt, JobAction.FAIL, values)
        if job is not None:
            self.metrics.finished(job.job_type, "failed", job.started_at, job.completed_at)
        return job

    async def schedule_retry(
        self, job_id: uuid.UUID, attempt: int, message: str, detail: str | None, delay_s: float
    ) -> JobRow | None:
        values = {
            "status": transition(JobStatus.RUNNING, JobAction.RETRY).value,
            "retry_count": NEXT_RETRY,
            "error_kind": ErrorKind.TRANSIENT.value,
            "error_message": attempts.redact(message),
            "error_detail": attempts.redact(detail),
            "progress_message": f"Retrying in {math.ceil(delay_s)} s",
            "run_after": self.clock() + timedelta(seconds=delay_s),
            "lease_expires_at": None,
        }
        job = await self._worker_change(job_id, attempt, JobAction.RETRY, values)
        if job is not None:
            self.metrics.job("retried", job.job_type)
        return job

    async def requeue(self, job_id: uuid.UUID, attempt: int) -> JobRow | None:
        """Back to pending without spending a retry (shutdown interrupted the attempt)."""
        values = {
            "progress_message": "Waiting for a worker (interrupted by a restart)",
            "lease_expires_at": None,
        }
        return await self._worker_change(job_id, attempt, JobAction.REQUEUE, values)

    def retry_delay(self, job: JobRow, minimum_s: float | None) -> float:
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
        job_ids = await self.db.read(lambda c: store.expired_leases(c, now))
        owners: set[uuid.UUID] = set()
        reaped = 0
        for job_id in job_ids:
            outcome = await self.db.write(partial(self._record_stall, job_id=job_id, now=now))
            if outcome is None:
                continue
            owners.add(outcome.user_id)
            reaped += 1
            log.warning(
                "job.reaped",
                extra={
                    "job_id": str(job_id),
                    "job_type": outcome.job_type,
                    "user_id": str(outcome.user_id),
                    "attempt": outcome.attempt,
                    "status": outcome.status,
                },
            )
            if outcome.status == JobStatus.FAILED.value:
                self.metrics.job("failed", outcome.job_type)
            if outcome.status == JobStatus.PENDING.value:
                await self.enqueue(outcome, replace_active=True)
        await self.bus.publish(owners)
        return reaped

    async def reconcile(self, older_than_s: float = 10.0) -> int:
        """Enqueue pending jobs that their queue does not hold (lost between commit and enqueue,
        or a queue that lost its data), or holds as claimed by a worker that never started them
        (it died between the claim and its first write, which are milliseconds apart)."""
        before = self.clock() - timedelta(seconds=older_than_s)
        after_id: uuid.UUID | None = None
        fixed = 0
        while True:
            batch = await self.db.read(
                partial(store.pending_before, before=before, after_id=after_id)
            )
            if not batch:
                return fixed
            after_id = batch[-1].id
            for name, queue in self.queues.items():
                waiting = [job for job in batch if job.queue == name]
                if not waiting:
                    continue
                held = await statuses(queue, [str(job.id) for job in waiting])
                for job, status in zip(waiting, held, strict=True):
                    if status is None or status in TERMINAL_STATUSES:
                        fixed += int(await self.enqueue(job))
                    elif status in (Status.ACTIVE, Status.ABORTING):
                        fixed += int(await self.enqueue(job, replace_active=True))

    async def enqueue(self, job: JobRow, *, replace_active: bool = False) -> bool:
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

    async def _abort_queued(self, job: JobRow, reason: str) -> None:
        """Take a cancelled job off its queue (a worker elsewhere sees the abort within ~1 s)."""
        queue = self.queues[job.queue]
        try:
            saq_job = await queue.job(str(job.id))
            if saq_job is not None and saq_job.status not in TERMINAL_STATUSES:
                await queue.abort(saq_job, reason)
        except Exception:
            # The row already says cancelled; a worker that starts it anyway finds that out.
            log.exception("job.abort_failed", extra={"job_id": str(job.id)})

    def _record_stall(
        self, connection: Connection, job_id: uuid.UUID, now: datetime
    ) -> JobRow | None:
        """If the job runs on an expired lease, count a lost worker: back to pending, or failed
        for good after ``max_stalls``. The changed row, or None if its lease had not expired."""
        params = {"w_expired_before": now, "w_max_stalls": self.settings.max_stalls}
        requeued = store.change(
            connection,
            job_id,
            sources={JobStatus.RUNNING},
            values={
                "status": transition(JobStatus.RUNNING, JobAction.REQUEUE).value,
                "stall_count": NEXT_STALL,
                "lease_expires_at": None,
                "progress_message": "Waiting for a worker (the previous one stopped)",
            },
            event_type=JobAction.REQUEUE.value,
            now=now,
            where=[LEASE_EXPIRED, STALLS_LEFT],
            params=params,
        )
        if requeued is not None:
            attempts.close_attempt(
                connection,
                requeued,
                Outcome.STALLED,
                now,
                error_message="The worker stopped renewing its lease",
            )
            return requeued
        failed = store.change(
            connection,
            job_id,
            sources={JobStatus.RUNNING},
            values={
                "status": transition(JobStatus.RUNNING, JobAction.FAIL).value,
                "stall_count": NEXT_STALL,
                "lease_expires_at": None,
                "completed_at": now,
                "error_kind": ErrorKind.INTERNAL.value,
                "error_message": (
                    f"The job stopped its worker {self.settings.max_stalls} times and was given up."
                ),
            },
            event_type=JobAction.FAIL.value,
            now=now,
            where=[LEASE_EXPIRED],
            params=params,
        )
        if failed is not None:
            attempts.close_attempt(
                connection,
                failed,
                Outcome.FAILED,
                now,
                error_kind=failed.error_kind,
                error_message=failed.error_message,
            )
        return failed

    async def _user_change(
        self,
        user_id: uuid.UUID,
        job_id: uuid.UUID,
        action: JobAction,
        values: dict[str, Any],
        effect: Effect | None = None,
    ) -> JobRow:
        now = self.clock()
        values = {"status": target(action).value, **values}

        def apply(connection: Connection) -> JobRow:
            job = store.change(
                connection,
                job_id,
                sources=sources(action),
                values=values,
                event_type=action.value,
                now=now,
                user_id=user_id,
            )
            if job is not None:
                if effect is not None:
                    effect(connection, job)
                return job
            current = store.get(connection, job_id)
            if current is None or current.user_id != user_id:
                raise NotFound(f"job {job_id} not found")
            verb = action.name.lower().replace("_", " ")
            raise Conflict(f"cannot {verb} a {current.status} job", jobStatus=current.status)

        job = await self.db.write(apply)
        await self.bus.publish({user_id})
        return job

    async def _worker_change(
        self,
        job_id: uuid.UUID,
        attempt: int,
        action: JobAction,
        values: dict[str, Any],
        params: dict[str, Any] | None = None,
        effect: Callable[[Connection, JobRow], None] | None = None,
    ) -> JobRow | None:
        now = self.clock()
        values = {"status": transition(JobStatus.RUNNING, action).value, **values}
        outcome = ATTEMPT_OUTCOMES.get(action)

        def apply(connection: Connection) -> JobRow | None:
            job = store.change(
                connection,
                job_id,
                sources={JobStatus.RUNNING},
                values=values,
                event_type=action.value,
                now=now,
                attempt=attempt,
                params=params,
            )
            if job is not None and effect is not None:
                effect(connection, job)
            if job is not None and outcome is not None:
                attempts.close_attempt(
                    connection,
                    job,
                    outcome,
                    now,
                    error_kind=values.get("error_kind"),
                    error_message=values.get("error_message"),
                    traceback=values.get("error_detail"),
                )
            return job

        job = await self.db.write(apply)
        if action is not JobAction.PROGRESS:
            self._last_progress.pop((job_id, attempt), None)
        if job is not None:
            await self.bus.publish({job.user_id})
        return job
