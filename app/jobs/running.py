"""Jobs running in this process: a cancel stops them at once instead of at the next poll, and
one lease keeper renews all their leases together."""

from __future__ import annotations

import asyncio
import math
import uuid
from types import TracebackType


class AttemptScope:
    """Where one attempt's code runs: it is stopped at its deadline (a ``loop.time()`` value)
    or when :meth:`cancel` is called (the user's cancel, a lease taken over), and the scope
    then ends quietly with ``cancelled_caught`` set. A cancel of the task from anywhere else
    (a worker shutting down) goes on up.

    Not ``anyio.CancelScope``: entering and leaving one (under the ``@contextmanager`` that
    registered it) cost ~19 µs a job on the slowest machine here, this ~5 µs, and anyio also
    keeps state per task; the drain gained 13 % (bench/PROFILE.md, 2026-11-30 21:10). Each
    cancel is delivered once, as ``asyncio.timeout`` does; for code that swallows one, the
    deadline is delivered again every ``REDELIVER_S`` and every further :meth:`cancel` (the
    lease keeper's, a progress report's) delivers another, as anyio's scope would keep doing.
    Call it from the event loop's thread only, as anyio's scopes.
    """

    REDELIVER_S = 1.0

    __slots__ = (
        "_cancels",
        "_job_id",
        "_jobs",
        "_task",
        "_timer",
        "attempt",
        "cancelled_caught",
        "deadline",
        "timed_out",
    )

    def __init__(self, jobs: RunningJobs, job_id: uuid.UUID, attempt: int, deadline: float):
        self._jobs = jobs
        self._job_id = job_id
        self.attempt = attempt
        self.deadline = deadline
        self._task: asyncio.Task[object] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._cancels = 0  # delivered to the task by this scope
        self.cancelled_caught = False  # the scope stopped the code (its deadline or a cancel)
        self.timed_out = False  # … and it was the deadline

    async def __aenter__(self) -> AttemptScope:
        self._task = asyncio.current_task()
        if self._task is None:
            raise RuntimeError("an attempt runs in a task")
        if self.deadline != math.inf:
            self._timer = asyncio.get_running_loop().call_at(self.deadline, self._expire)
        self._jobs._scopes[self._job_id] = self
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if self._jobs._scopes.get(self._job_id) is self:
            del self._jobs._scopes[self._job_id]
        if self._timer is not None:
            self._timer.cancel()
        task, self._task = self._task, None  # left: a cancel from now on does nothing
        if not self._cancels or task is None:
            return False
        remaining = 0
        for _ in range(self._cancels):
            remaining = task.uncancel()
        # Ours only if no other cancel came for the task meanwhile (a shutdown's goes on up).
        if remaining == 0 and exc_type is asyncio.CancelledError:
            self.cancelled_caught = True
            return True
        self.timed_out = False  # the code returned or raised on its own after all
        return False

    def _expire(self) -> None:
        if self._task is None:
            return
        if not self._cancels:
            self.timed_out = True
        self.cancel()
        self._timer = asyncio.get_running_loop().call_later(self.REDELIVER_S, self._expire)

    def cancel(self) -> None:
        """Stop the attempt's code at its next ``await``."""
        if self._task is None:
            return  # not entered yet, or already left
        self._cancels += 1
        self._task.cancel()


class RunningJobs:
    def __init__(self) -> None:
        self._scopes: dict[uuid.UUID, AttemptScope] = {}

    def track(self, job_id: uuid.UUID, attempt: int, *, deadline: float = math.inf) -> AttemptScope:
        """``async with`` it around the attempt's code; ``deadline`` in ``loop.time()``."""
        return AttemptScope(self, job_id, attempt, deadline)

    def cancel(self, job_id: uuid.UUID, attempt: int | None = None) -> bool:
        """Stop the job's task (only if it runs ``attempt``, when given)."""
        scope = self._scopes.get(job_id)
        if scope is None or (attempt is not None and scope.attempt != attempt):
            return False
        scope.cancel()
        return True

    def attempts(self) -> list[tuple[uuid.UUID, int]]:
        """(job id, attempt) of every job running here now."""
        return [(job_id, scope.attempt) for job_id, scope in self._scopes.items()]

    def __len__(self) -> int:
        return len(self._scopes)
