"""Jobs running in this process: a cancel stops them at once instead of at the next poll, and
one lease keeper renews all their leases together."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import anyio


class RunningJobs:
    def __init__(self) -> None:
        self._scopes: dict[uuid.UUID, tuple[int, anyio.CancelScope]] = {}

    @contextmanager
    def track(
        self, job_id: uuid.UUID, attempt: int, *, deadline: float = math.inf
    ) -> Iterator[anyio.CancelScope]:
        """A cancel scope for the attempt, ending at ``deadline`` (``anyio.current_time()``)."""
        with anyio.CancelScope(deadline=deadline) as scope:
            entry = (attempt, scope)
            self._scopes[job_id] = entry
            try:
                yield scope
            finally:
                if self._scopes.get(job_id) is entry:
                    del self._scopes[job_id]

    def cancel(self, job_id: uuid.UUID, attempt: int | None = None) -> bool:
        """Stop the job's task (only if it runs ``attempt``, when given)."""
        entry = self._scopes.get(job_id)
        if entry is None or (attempt is not None and entry[0] != attempt):
            return False
        entry[1].cancel()
        return True

    def attempts(self) -> list[tuple[uuid.UUID, int]]:
        """(job id, attempt) of every job running here now."""
        return [(job_id, attempt) for job_id, (attempt, _) in self._scopes.items()]

    def __len__(self) -> int:
        return len(self._scopes)
