"""JobRunner: the SAQ function behind every job type.

SAQ delivers ``{"job_id": …}``; the runner claims the job in our table (a new attempt), runs the
task with a deadline while the process's lease keeper renews its lease, and records the outcome
through the JobService. It
decides retries itself (SAQ is told how long to wait), so a shutdown or a lost worker never spends
one of the user's retries.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
from sqlalchemy.exc import InterfaceError, OperationalError

from app.errors import INTERNAL_USER_MESSAGE, ErrorKind, TaskError, UserError
from app.jobs.running import AttemptScope
from app.jobs.service import Deferred, JobService
from app.jobs.store import JobRow
from app.logging import bind
from app.tasks.base import TaskContext, TaskServices

log = logging.getLogger("atspro.jobs")

SaqFunction = Callable[..., Awaitable[Any]]

# Our job table could not be read or written (disk full, read-only file, database down or
# locked). Not the job's fault: nothing about it is recorded, and it is never failed for it.
STORE_DOWN = (OperationalError, InterfaceError)
STORE_RETRY_S = 1.0  # SAQ offers the job again after about this long, not at once


class JobRetry(Exception):
    """Tells SAQ to run the job again after the delay the runner chose."""


class JobFailed(Exception):
    """Tells SAQ the job failed for good (its failed state mirrors our dead-letter rows)."""


class JobDeferred(Exception):
    """Tells SAQ to offer the job again later: its user is at the running cap."""


class WorkerDraining(Exception):
    """A job claimed while the worker shuts down goes straight back to the queue."""


class StoreUnavailable(Exception):
    """Tells SAQ to offer the job again later: the job table cannot be written right now."""


# What starting a job gave: its row, None (nothing to do), Deferred, or the exception for SAQ.
Started = JobRow | Deferred | None | Exception


class JobRunner:
    def __init__(
        self, service: JobService, *, worker_id: str, services: TaskServices | None = None
    ) -> None:
        self.service = service
        self.worker_id = worker_id
        self.services = services
        self.draining = False

    def saq_functions(self) -> list[tuple[str, SaqFunction]]:
        return [(spec.name, self.run) for spec in self.service.registry]

    async def run(self, ctx: dict[str, Any], *, job_id: str) -> dict[str, Any] | None:
        """SAQ's function for one job: start it in our table, then run it."""
        saq_job = ctx["job"]
        (started,) = await self.start_many([saq_job])
        return await self.execute(saq_job, started)

    async def start_many(self, saq_jobs: Sequence[Any]) -> list[Started]:
        """Start these SAQ jobs in our table, in one transaction: for each, its row to run,
        None (nothing to do) or Deferred; or the exception SAQ must get (draining, outage)."""
        if self.draining:
            return [WorkerDraining("worker is shutting down") for _ in saq_jobs]
        job_ids = [uuid.UUID(saq_job.kwargs["job_id"]) for saq_job in saq_jobs]
        try:
            return list(await self.service.start_many(job_ids, worker_id=self.worker_id))
        except (*STORE_DOWN, OSError) as error:  # OSError: asyncpg cannot connect, say
            # Not claimed, so not started: SAQ's own retry would come back at once, thousands
            # of times a second, each with a traceback (and each one written to the queue).
            return [
                self._store_unavailable(saq_job, str(job_id), error)
                for saq_job, job_id in zip(saq_jobs, job_ids, strict=True)
            ]

    async def execute(
        self, saq_job: Any, started: Started, on_ran: Callable[[], None] | None = None
    ) -> dict[str, Any] | None:
        """Run a job ``start_many`` returned; raises what SAQ must do with its queue entry.
        ``on_ran`` is called once the task's own code has returned, before its outcome is
        written (a worker may start the next job meanwhile)."""
        if isinstance(started, Exception):
            raise started
        job = started
        if job is None:
            return None  # cancelled, finished, or running elsewhere: nothing to do
        if isinstance(job, Deferred):
            saq_job.retries += 1  # waiting for a slot is not an attempt
            saq_job.retry_delay = job.delay_s
            saq_job.retry_backoff = False
            raise JobDeferred(saq_job.kwargs["job_id"])
        with bind(
            job_id=str(job.id), job_type=job.job_type, user_id=str(job.user_id), attempt=job.attempt
        ):
            log.info("job.started")
            try:
                return await self._outcome(saq_job, job, on_ran)
            except STORE_DOWN as error:
                # The outcome (or the failure to record) could not be written. The row stays
                # running on its lease: the reaper, or SAQ's next offer once the lease has
                # lapsed, runs the job again without spending a retry.
                raise self._store_unavailable(saq_job, str(job.id), error) from None

    def _store_unavailable(self, saq_job: Any, job_id: str, error: Exception) -> StoreUnavailable:
        log.warning(
            "job.store_unavailable",
            extra={"job_id": job_id, "error": type(error).__name__, "detail": str(error)[:200]},
        )
        saq_job.retries += 1  # an outage is not an attempt
        saq_job.retry_delay = STORE_RETRY_S * random.uniform(1.0, 1.5)  # noqa: S311 (jitter)
        saq_job.retry_backoff = False
        return StoreUnavailable(job_id)

    async def _outcome(
        self, saq_job: Any, job: JobRow, on_ran: Callable[[], None] | None = None
    ) -> dict[str, Any] | None:
        try:
            return await self._attempt(job, on_ran)
        except TaskError as error:
            spent = (error.exhausted_kind, error.exhausted_message)
            await self._failed(
                saq_job, job, error.kind, error, str(error), error.retry_after_s, spent
            )
        except TimeoutError as error:
            message = "The job took too long and was stopped."
            await self._failed(saq_job, job, ErrorKind.TRANSIENT, error, message, None)
        except STORE_DOWN:
            raise  # our table failed us, not the task: see run()
        except asyncio.CancelledError:
            # Shutdown (or SAQ's own abort): put it back without spending a retry.
            with anyio.CancelScope(shield=True):
                await self.service.requeue(job.id, job.attempt)
            raise
        except Exception as error:
            await self._failed(saq_job, job, ErrorKind.INTERNAL, error, INTERNAL_USER_MESSAGE, None)
        return None

    async def _attempt(
        self, job: JobRow, on_ran: Callable[[], None] | None = None
    ) -> dict[str, Any] | None:
        spec = self.service.registry.get(job.job_type)
        try:
            data = spec.input_model.model_validate(job.input_data)
        except ValueError as error:
            raise UserError(f"The job's input is no longer valid: {error}") from error
        deadline = time.monotonic() + spec.timeout_s
        # Tracked, its lease is renewed by the process's LeaseKeeper (app/jobs/leases.py),
        # which cancels the scope if the attempt was cancelled or taken over meanwhile. The
        # same scope carries the task's deadline (one cancel scope per job, not two).
        timeout_at = asyncio.get_running_loop().time() + spec.timeout_s
        tracked = self.service.running.track(job.id, job.attempt, deadline=timeout_at)
        async with tracked as scope:
            context = TaskContext(
                job_id=job.id,
                user_id=job.user_id,
                attempt=job.attempt,
                deadline=deadline,
                report=self._progress_sink(job, scope),
                services=self.services,
            )
            output = await spec.run(context, data)
        if on_ran is not None:
            on_ran()
        if scope.timed_out:
            raise TimeoutError(f"the job ran past its {spec.timeout_s} s deadline")
        if scope.cancelled_caught:
            # The user's cancel is logged (job.cancelled) where it was made; this is the worker
            # letting go of the attempt (cancelled, or its lease taken over).
            log.info("job.stopped")
            return None
        output = spec.output_model.model_validate(output)
        result = output.model_dump(mode="json", by_alias=True)
        record = spec.record
        effect = None if record is None else (lambda c, row: record(c, row, output))
        if (
            await self.service.complete(job.id, job.attempt, result, effect, started=job)
            is not None
        ):
            log.info("job.completed")
        return {"ok": True}

    def _progress_sink(
        self, job: JobRow, scope: AttemptScope
    ) -> Callable[[int, str | None], Awaitable[None]]:
        async def report(percent: int, message: str | None) -> None:
            still_ours = await self.service.progress(
                job.id, job.attempt, percent, message, now_s=time.monotonic()
            )
            if not still_ours:
                scope.cancel()  # cancelled or taken over: stop at the next await
                await anyio.lowlevel.checkpoint()

        return report

    async def _failed(
        self,
        saq_job: Any,
        job: JobRow,
        kind: ErrorKind,
        error: BaseException,
        message: str,
        retry_after_s: float | None,
        spent: tuple[ErrorKind, str] | None = None,
    ) -> None:
        """Retry a transient failure while retries are left; else fail, as ``spent`` says
        when given (a provider that stayed down fails ``llm_unavailable``, not ``transient``)."""
        detail = "".join(traceback.format_exception(error))
        if kind is ErrorKind.TRANSIENT and job.retry_count < job.max_retries:
            delay = self.service.retry_delay(job, retry_after_s)
            if await self.service.schedule_retry(job.id, job.attempt, message, detail, delay):
                log.info("job.retry_scheduled", extra={"delay_s": round(delay, 3)})
                saq_job.retry_delay = delay
                saq_job.retry_backoff = False
                raise JobRetry(message) from None
            return
        if spent is not None:
            kind, message = spent
        if await self.service.fail(job.id, job.attempt, kind, message, detail):
            log.info("job.failed", extra={"error_kind": kind.value})
            saq_job.retries = saq_job.attempts  # not retryable: SAQ records it as failed
            raise JobFailed(message) from None
