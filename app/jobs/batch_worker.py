"""BatchWorker: the worker for SQLite queues, which claims, starts and finishes jobs in groups.

SAQ's Worker gives each slot a ``process`` task that dequeues one job, runs it in a second task
under ``wait_for`` and a shield, and finishes it: every job pays for its own claim, its own start
transaction, its own queue write and SAQ's bookkeeping, and on the SQLite default each of those
is a hop to a writer thread. With ten slots the jobs move in waves, and the threads mostly wait
for each other (bench/PROFILE.md: 0.6 threads busy while draining).

This worker keeps SAQ's upkeep (stats that the monitor and the sweep read, schedule, sweep, the
abort checks, which read ``job_task_contexts``) and replaces the slots with one pump:

1. wait for a free slot, then claim as many jobs as there are free slots in one statement
   (``SQLiteQueue.dequeue_many``). While jobs return quickly, the next group is claimed in the
   background as soon as a group starts, and is ready when the slots free: the claim (a write
   to the queue's own file) is then off the path from one job to the next.
   A group claimed ahead waits at most ``HOLD_MAX_S`` for slots, then goes back to the queue;
   a stopping worker gives it back too;
2. start them all in our table in one transaction (``JobRunner.start_many``);
3. run each in a task of its own (``JobRunner.execute``: the attempt, its deadline, its outcome
   written to our table, exactly as under SAQ's Worker); its slot is free as soon as the task's
   own code returns, while its outcome is still being written;
4. finish their queue entries in groups, behind the jobs (``SQLiteQueue.finish_many``): our
   table is the source of truth. A queue entry left unfinished by a crash is swept and offered
   again, and starting it then finds the row finished and does nothing.

What SAQ's Worker does with an outcome is unchanged: a return completes the entry, an exception
retries it while retries are left (ours always are: the runner decides) or fails it, an abort
finishes it aborted, a shutdown puts it back.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from typing import Any

from saq.job import Job, Status
from saq.queue.base import Queue

from app.jobs.runner import JobRunner, Started
from app.jobs.worker import DEQUEUE_TIMEOUT_S, AppWorker
from app.queues.sqlite import SQLiteQueue

log = logging.getLogger("atspro.worker")
saq_log = logging.getLogger("saq")

_ALONE: Any = object()  # start this job on its own: its group's start raised
# Claim the next group while every slot is taken only when jobs return this quickly on
# average; a group claimed ahead waits at most HOLD_MAX_S for slots, then goes back.
PREFETCH_BELOW_S = 0.02
HOLD_MAX_S = 1.0
RUN_TIME_WEIGHT = 0.2  # of each job in the moving average of run times


class BatchWorker(AppWorker):
    def __init__(
        self, name: str, queue: Queue, runner: JobRunner, *, concurrency: int, **kwargs: Any
    ):
        if not isinstance(queue, SQLiteQueue):
            raise TypeError("BatchWorker needs a SQLiteQueue (others use AppWorker)")
        super().__init__(name, queue, runner, concurrency=concurrency, **kwargs)
        self.sqlite_queue = queue
        self._pump: asyncio.Task[None] | None = None
        self._busy = 0  # slots taken: jobs whose task code has not returned yet
        self._slot_freed = asyncio.Event()
        self._outbox: list[tuple[Job, Status, Any, str | None]] = []
        self._finishing: asyncio.Task[None] | None = None
        self._ready: list[Job] = []  # claimed ahead, waiting for slots
        self._claiming_ahead: asyncio.Task[None] | None = None
        self._ready_since = 0.0
        self._run_s = PREFETCH_BELOW_S  # recent jobs' run time (moving average), from slow

    # -- SAQ's Worker: one pump instead of ``concurrency`` process tasks ------------------------

    def _process(self, previous_task: asyncio.Task[Any] | None = None) -> None:
        if previous_task is not None:
            self.tasks.discard(previous_task)
        if self._pump is None and not self.event.is_set():
            self._pump = asyncio.create_task(self._pump_jobs(), name="pump")
            self.tasks.add(self._pump)

    async def stop(self) -> None:
        """SAQ's stop (the pump and running jobs are cancelled, and put back), then the queue
        entries of jobs that finished meanwhile are written before the queue disconnects."""
        await super().stop()
        if self._finishing is not None:
            await asyncio.shield(self._finishing)

    async def _pump_jobs(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not self.event.is_set() and not self.draining:
                free = self._room()
                if free > 0:
                    if not self._ready and self._claiming_ahead is not None:
                        await asyncio.wait({self._claiming_ahead})  # its jobs are coming
                        continue
                    jobs, self._ready = self._ready[:free], self._ready[free:]
                    if not jobs:
                        jobs = await self.sqlite_queue.dequeue_many(free, DEQUEUE_TIMEOUT_S)
                    if jobs:
                        self._claim_ahead()
                        await self._start(jobs)
                    continue
                self._claim_ahead()
                self._slot_freed.clear()
                if not self._ready:
                    await self._slot_freed.wait()
                    continue
                # Not ``wait_for``: it waits in a task of its own, and the pump would wake two
                # turns of the loop late, after the group it should join was written.
                give_up_at = self._ready_since + HOLD_MAX_S
                timer = loop.call_at(give_up_at, self._slot_freed.set)
                try:
                    await self._slot_freed.wait()
                finally:
                    timer.cancel()
                if loop.time() >= give_up_at and not self._room():
                    # The running jobs are slow after all: the claimed ones go back to the
                    # queue for now, and the worker stops claiming ahead until jobs are quick.
                    self._run_s = HOLD_MAX_S
                    self._give_back_ready()
        finally:
            self._give_back_ready()  # stopping or draining: claimed ahead, never started

    def _room(self) -> int:
        """How many jobs may start now: the free slots, none while too many finished jobs
        still wait for their queue entries to be written."""
        if len(self._outbox) >= 2 * self.concurrency:
            return 0
        return max(0, self.concurrency - self._busy)

    def _claim_ahead(self) -> None:
        """While jobs return quickly, keep a group of claimed jobs ready for the next free
        slots, claimed in the background while the current group starts and runs."""
        wanted = self.concurrency - len(self._ready)
        if self._claiming_ahead is not None or wanted <= 0 or self._run_s >= PREFETCH_BELOW_S:
            return
        self._claiming_ahead = asyncio.create_task(self._claim(wanted), name="claim-ahead")
        self.tasks.add(self._claiming_ahead)

    async def _claim(self, wanted: int) -> None:
        try:
            jobs = await self.sqlite_queue.dequeue_many(wanted, DEQUEUE_TIMEOUT_S)
        finally:
            self.tasks.discard(asyncio.current_task())
            self._claiming_ahead = None
        if self.event.is_set() or self.draining:
            self.sqlite_queue.give_back(jobs)
            return
        if jobs and not self._ready:
            self._ready_since = asyncio.get_running_loop().time()
        self._ready.extend(jobs)
        self._slot_freed.set()  # wake the pump: there may be free slots for them

    def _give_back_ready(self) -> None:
        ready, self._ready = self._ready, []
        self.sqlite_queue.give_back(ready)

    async def _start(self, jobs: list[Job]) -> None:
        """Start ``jobs`` in our table together, then run each in a task of its own."""
        for job in jobs:
            job.attempts += 1  # as SAQ's Worker counts deliveries
            job.worker_id = self.id
        started: list[Started]
        try:
            started = await self.runner.start_many(jobs)
        except Exception:
            # One job's start raised something other than an outage: start each on its
            # own, so only that one fails.
            started = [_ALONE] * len(jobs)
        self._busy += len(jobs)
        for job, outcome in zip(jobs, started, strict=True):
            task = asyncio.create_task(self._run(job, outcome), name="job")
            self.job_task_contexts[job] = {"task": task, "aborted": None}
            self.tasks.add(task)

    # -- one job --------------------------------------------------------------------------------

    async def _run(self, job: Job, started: Started) -> None:
        holding = True
        loop = asyncio.get_running_loop()
        began = loop.time()

        def release() -> None:
            """The job's code has returned: its slot may take the next job while its outcome
            is being written."""
            nonlocal holding
            if holding:
                holding = False
                self._busy -= 1
                self._slot_freed.set()
                ran_s = loop.time() - began
                self._run_s += (ran_s - self._run_s) * RUN_TIME_WEIGHT

        try:
            if started is _ALONE:
                (started,) = await self.runner.start_many([job])
            result = await self.runner.execute(job, started, release)
        except asyncio.CancelledError:
            aborted = self.job_task_contexts[job]["aborted"]
            if aborted is not None:
                self._finished(job, Status.ABORTED, None, aborted)
            else:  # shutting down: back to the queue, as SAQ's Worker does
                await self._queue_write(job.retry("cancelled"))
            raise
        except Exception:
            saq_log.exception("Error processing job %s", job)  # control flow is filtered out
            error = traceback.format_exc()
            if job.retryable:
                await self._queue_write(job.retry(error))
            else:
                self._finished(job, Status.FAILED, None, error)
        else:
            self._finished(job, Status.COMPLETE, result, None)
        finally:
            del self.job_task_contexts[job]
            self.tasks.discard(asyncio.current_task())
            release()

    async def _queue_write(self, write: Any) -> None:
        try:
            await write
        except Exception as error:
            # As AppWorker.process: our table holds the outcome; the sweep and the reconciler
            # mend the queue entry.
            log.warning(
                "worker.queue_write_failed",
                extra={"queue": self.name, "error": type(error).__name__},
            )

    def _finished(self, job: Job, status: Status, result: Any, error: str | None) -> None:
        self._outbox.append((job, status, result, error))
        if self._finishing is None:
            self._finishing = asyncio.create_task(self._finish_outbox(), name="finish")

    async def _finish_outbox(self) -> None:
        """Write the finished entries, one group per round, until none are left."""
        try:
            while self._outbox:
                group, self._outbox = self._outbox, []
                await self._queue_write(self.sqlite_queue.finish_many(group))
                self._slot_freed.set()
        finally:
            self._finishing = None
