"""Named singleton locks: only one holder runs the guarded work (reaper, reconciler, cleanup).

In-process (anyio) now; split mode adds a Redis implementation of the same protocol.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import anyio


class Locks(Protocol):
    def singleton(self, name: str) -> AbstractAsyncContextManager[bool]:
        """Yield True if this caller holds ``name`` for the block, False if someone else does."""
        ...


class InProcessLocks:
    def __init__(self) -> None:
        self._locks: dict[str, anyio.Lock] = {}

    @asynccontextmanager
    async def singleton(self, name: str) -> AsyncIterator[bool]:
        lock = self._locks.setdefault(name, anyio.Lock())
        if lock.locked():
            yield False
            return
        async with lock:
            yield True
