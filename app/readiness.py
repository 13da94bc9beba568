"""What ``/readyz`` asks the app database: does it answer a read, and does it take a write.

A read alone stays green while the disk is full or the database refuses writes (a read-only file
or mount; on PostgreSQL, a replica after a failover or ``default_transaction_read_only``), and
then every submit fails while the load balancer keeps sending them. The write check inserts a row
into ``write_checks`` and deletes it again in one transaction that **commits**: the table stays
empty, no two processes ever touch the same row (so none waits for another's lock), and the commit
meets the disk. A rolled-back write would prove nothing on SQLite: it writes a transaction's pages
to the WAL only when it commits, so a write that is rolled back succeeds on a full disk.

It stays cheap however often it is asked: at most one check write is in flight per process (a
caller that stops waiting leaves it running, and the next caller waits for that same write rather
than queueing another behind a stuck writer), and a finished outcome is reused for ``REUSE_S``, so
a burst of probes costs one write.

A committed probe is still not proof enough on SQLite: once the WAL has been checkpointed, a
small commit reuses the WAL file's existing space, so on a full disk the probe can succeed while
every submit is refused. So the check also fails for ``REFUSAL_MEMORY_S`` after any of this
process's writes was refused for want of space or write access (``Database.last_refusal``).
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Callable
from typing import cast

from sqlalchemy import Table, delete, insert, text
from sqlalchemy.engine import Connection

from app.db import Database, utcnow
from app.models import WriteCheck

REUSE_S = 1.0
# A write refused for want of space or write access (``app.db.refused_writes``) keeps the check
# failing this long, even when the probe's own small write succeeds: on a full disk SQLite can
# still fit a few bytes into the WAL's existing space while every real write fails.
REFUSAL_MEMORY_S = 10.0

write_checks = cast(Table, WriteCheck.__table__)


def _read(connection: Connection) -> None:
    connection.execute(text("SELECT 1"))


def _write(connection: Connection) -> None:
    key = uuid.uuid4()
    connection.execute(insert(write_checks).values(id=key, checked_at=utcnow()))
    connection.execute(delete(write_checks).where(write_checks.c.id == key))


class WritesRefused(Exception):
    """The database refused one of this process's writes within ``REFUSAL_MEMORY_S``."""


class DatabaseProbe:
    """One per process (the container's); ``clock`` is monotonic seconds."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.clock = clock
        self._write: asyncio.Future[None] | None = None
        self._finished_at = -math.inf

    async def read(self) -> None:
        await self.db.read(_read)

    async def write(self) -> None:
        """Raise what the database raised for the latest check write."""
        write = self._write
        if write is None or self._stale(write):
            write = self._write = asyncio.ensure_future(self.db.write(_write))
            write.add_done_callback(self._finished)
        # The caller's timeout cancels its wait, not the write: the next caller picks it up.
        await asyncio.shield(write)
        refusal = self.db.last_refusal
        if refusal is not None and time.monotonic() - refusal[0] < REFUSAL_MEMORY_S:
            # The probe's few bytes fitted (in WAL space SQLite already has, say), but a real
            # write was refused for want of space or write access a moment ago.
            raise WritesRefused(
                f"a write was refused {time.monotonic() - refusal[0]:.1f} s ago: {refusal[1]}"
            )

    def _stale(self, write: asyncio.Future[None]) -> bool:
        """Finished ``REUSE_S`` ago, or cancelled (at shutdown); one in flight is never stale."""
        if not write.done():
            return False
        return write.cancelled() or self.clock() - self._finished_at >= REUSE_S

    def _finished(self, write: asyncio.Future[None]) -> None:
        self._finished_at = self.clock()
        if not write.cancelled():
            write.exception()  # retrieved here too, for when every caller stopped waiting
