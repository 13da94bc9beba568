"""Jobs running in this process, so a cancel can stop them at once instead of at the next poll."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import anyio


class RunningJobs:
    def __init__(self) -> None:
        self._scopes: dict[uuid.UUID, anyio.CancelScope] = {}

    @contextmanager
    def track(self, job_id: uuid.UUID) -> Iterator[anyio.CancelScope]:
        with anyio.CancelScope() as scope:
            self._scopes[job_id] = scope
            try:
                yield scope
            finally:
                if self._scopes.get(job_id) is scope:
                    del self._scopes[job_id]

    def cancel(self, job_id: uuid.UUID) -> bool:
        scope = self._scopes.get(job_id)
        if scope is None:
            return False
        scope.cancel()
        return True

    def __len__(self) -> int:
        return len(self._scopes)
