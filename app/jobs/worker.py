"""SAQ workers embedded in our event loop, with a drain that keeps its promise.

SAQ's ``Worker.stop()`` waits its whole grace period even when nothing runs, and its idle slots
keep claiming jobs meanwhile. :meth:`AppWorker.drain` stops intake first (slots are not renewed and
a job claimed now goes straight back), waits only as long as jobs are still running (at most the
grace), then stops: whatever still runs is cancelled and put back without spending a retry.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from typing import Any

import anyio
from saq import Queue, Worker
from saq.types import Context

from app.jobs.runner import JobRunner
from app.queues.sqlite import SQLiteQueue

log = logging.getLogger("atspro.worker")

DEQUEUE_TIMEOUT_S = 1.0  # bounded, so an idle slot notices a drain quickly


def worker_id(queue_name: str) -> str:
    """``host/pid/queue``. No colons: SAQ's RedisQueue.info() takes the text after the last colon
    of a worker's key as its id, and would list no worker at all."""
    return f"{socket.gethostname()}/{os.getpid()}/{queue_name}"


class AppWorker(Worker[Context]):
    # uvicorn owns SIGINT/SIGTERM; SAQ's handlers would stop the worker and leave HTTP running.
    SIGNALS: list[signal.Signals] = []  # noqa: RUF012

    def __init__(
        self, name: str, queue: Queue, runner: JobRunner, *, concurrency: int, **kwargs: Any
    ):
        self.name = name
        self.ready = anyio.Event()
        self.draining = False
        self.stopped = False  # its loop ended: /readyz reports it dead

        async def on_startup(_ctx: Context) -> None:
            self.ready.set()

        super().__init__(
            queue,
            functions=runner.saq_functions(),
            concurrency=concurrency,
            startup=[on_startup],
            dequeue_timeout=DEQUEUE_TIMEOUT_S,
            shutdown_grace_period_s=None,
            id=worker_id(name),
            **kwargs,
        )
        self.runner = runner
        if isinstance(queue, SQLiteQueue):
            queue.claim_for(self.id)  # one write per job less (see claim_for)

    async def process(self) -> bool:
        try:
            return bool(await super().process())
        except Exception as error:
            # SAQ could not record a job's outcome (its backend is down) and gave up. Our table
            # already holds the outcome, and the reconciler enqueues rows still pending, so the
            # slot simply goes on (unhandled, the error would surface as a task nobody awaited).
            log.warning(
                "worker.queue_write_failed",
                extra={"queue": self.name, "error": type(error).__name__},
            )
            return False

    def _process(self, previous_task: asyncio.Task[Any] | None = None) -> None:
        if self.draining:
            if previous_task is not None:
                self.tasks.discard(previous_task)
            return
        super()._process(previous_task)

    async def run(self) -> None:
        """``start()``, remembering when it has ended (stopped, or crashed)."""
        try:
            await self.start()
        finally:
            self.stopped = True

    async def stop(self) -> None:
        self.stopped = True
        await super().stop()

    @property
    def alive(self) -> bool:
        return self.ready.is_set() and not self.draining and not self.stopped

    @property
    def running_count(self) -> int:
        return len(self.job_task_contexts)

    async def drain(self, grace_s: float) -> None:
        """Stop intake, let running jobs finish within ``grace_s``, then stop."""
        self.draining = True
        self.runner.draining = True
        with anyio.move_on_after(grace_s):
            while self.job_task_contexts:  # noqa: ASYNC110 (SAQ offers no event to wait on)
                await anyio.sleep(0.05)
        if self.job_task_contexts:
            log.warning(
                "worker.grace_expired",
                extra={"queue": self.name, "requeued": len(self.job_task_contexts)},
            )
        await self.stop()
