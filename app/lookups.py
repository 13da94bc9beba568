"""BatchLookup: lookups made at the same moment answered by one query.

Every open event stream re-checks its credentials (API token or session) every
``ATSPRO_SESSION_RECHECK_S``; one query per stream made 200 reads a second for 1,000 idle
streams, each a thread hand-off and a transaction (bench/PROFILE.md). The streams wake on a
shared grid (``RevokedStreamCloser``), and every lookup asked in the same event-loop iteration
is answered by one query for all their keys: a handful of reads per interval per process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

CHUNK = 500  # keys per query: well under SQLite's and asyncpg's bound-parameter limits


class BatchLookup(Generic[K, V]):
    """``await lookup.get(key)``: ``fetch`` answers every key asked in the same loop iteration
    at once (a key it does not return gets ``missing``)."""

    def __init__(
        self, fetch: Callable[[Sequence[K]], Awaitable[Mapping[K, V]]], *, missing: V
    ) -> None:
        self._fetch = fetch
        self._missing = missing
        self._pending: dict[K, asyncio.Future[V]] = {}
        self._answering: set[asyncio.Task[None]] = set()

    async def get(self, key: K) -> V:
        future = self._pending.get(key)
        if future is None:
            loop = asyncio.get_running_loop()
            if not self._pending:
                loop.call_soon(self._answer_pending)
            future = self._pending[key] = loop.create_future()
        # Shielded: one caller giving up must not cancel the answer the others wait for.
        return await asyncio.shield(future)

    def _answer_pending(self) -> None:
        pending, self._pending = self._pending, {}
        task = asyncio.get_running_loop().create_task(self._answer(pending))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def _answer(self, pending: dict[K, asyncio.Future[V]]) -> None:
        keys = list(pending)
        found: dict[K, V] = {}
        try:
            for start in range(0, len(keys), CHUNK):
                found.update(await self._fetch(keys[start : start + CHUNK]))
        except Exception as error:
            for future in pending.values():
                if not future.done():
                    future.set_exception(error)
            return
        for key, future in pending.items():
            if not future.done():
                future.set_result(found.get(key, self._missing))
