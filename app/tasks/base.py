"""What every task gets: typed input and output, progress steps, a deadline, cancellation.

A task is an ``async def run(ctx: TaskContext, data: In) -> Out`` registered with a
:class:`TaskSpec`. Tasks raise :class:`app.errors.TransientError` to be retried with backoff or
:class:`app.errors.UserError` to fail at once with a message the user can act on; anything else is
an internal error whose traceback only operators see.

Tasks that call the AI engine do it inside ``async with ctx.token_meter() as meter``: the user's
daily token allowance is checked before (:class:`app.errors.OverBudget` when used up) and what the
model calls used is stored after, even when the attempt fails or is cancelled.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import anyio
from pydantic import BaseModel
from sqlalchemy import Row
from sqlalchemy.engine import Connection

from app.ai.engine import AIEngine
from app.ai.usage import TokenMeter
from app.budget import TokenBudget
from app.db import Database
from app.documents import Limits
from app.fetch import Fetcher

Record = Row[Any]  # the job's row, as the task's record hook receives it
In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)


# Where a task's progress goes: the job service, fenced by attempt.
ProgressSink = Callable[[int, str | None], Awaitable[None]]


@dataclass(frozen=True)
class TaskServices:
    """The outside systems tasks use, built once by the lifespan (one seam each)."""

    db: Database
    ai: AIEngine
    fetcher: Fetcher
    document_limits: Limits
    budget: TokenBudget | None = None  # None: no allowance, nothing counted


@dataclass
class TaskContext:
    """Handed to a running task. ``progress`` also checks for cancellation."""

    job_id: uuid.UUID
    user_id: uuid.UUID
    attempt: int
    deadline: float  # time.monotonic() value
    report: ProgressSink
    services: TaskServices | None = None

    @property
    def use(self) -> TaskServices:
        """The services; a task that needs them fails loudly when run without."""
        if self.services is None:
            raise RuntimeError("this task needs TaskServices, and none were given")
        return self.services

    async def progress(self, percent: int, message: str | None = None) -> None:
        """Report ``percent`` (0-100) and the current step; raises if the job was cancelled."""
        await self.report(max(0, min(100, int(percent))), message)

    @asynccontextmanager
    async def token_meter(self) -> AsyncIterator[TokenMeter]:
        """A meter for this attempt's model calls against the user's allowance; what they used
        is stored when the block ends, however it ends."""
        budget = self.use.budget
        if budget is None:
            yield TokenMeter()
            return
        meter = await budget.meter(self.user_id)
        try:
            yield meter
        finally:
            with anyio.CancelScope(shield=True):  # a cancelled job's calls were paid for too
                await budget.record(self.user_id, meter)

    @property
    def seconds_left(self) -> float:
        return self.deadline - time.monotonic()


@dataclass(frozen=True)
class TaskSpec(Generic[In, Out]):
    """A registered job type."""

    name: str
    input_model: type[In]
    output_model: type[Out]
    run: Callable[[TaskContext, In], Awaitable[Out]]
    timeout_s: float = 600.0  # sized for slow AI work, not SAQ's 10 s default
    max_retries: int | None = None  # None: the ATSPRO_MAX_RETRIES setting
    direct_submit: bool = False  # may be submitted through POST /api/jobs
    uses_ai: bool = False  # counts against the user's daily token allowance (app/budget.py)
    description: str = ""
    # Same input while such a job is pending or running returns that job (e.g. a file's hash).
    dedupe: Callable[[In], str | None] | None = None
    # Writes what the job made (an entity and its association) in the transaction that marks
    # the job completed, so a result exists exactly when the job says completed.
    record: Callable[[Connection, Record, Out], None] | None = None
