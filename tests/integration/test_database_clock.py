"""The database clock's offset, measured against a real PostgreSQL server on this host.

The server runs on this host's clock, so the true offset is zero and what ``sync`` measures is
its own error. Every ``JobService`` timestamp carries it, so across processes it decides whether
a job can show ``startedAt`` before ``createdAt`` or an event can look older than its job.
"""

from __future__ import annotations

import statistics
from datetime import timedelta

from app.db import make_database
from app.jobs.clock import DatabaseClock


async def test_first_sync_of_a_process_is_within_a_millisecond(postgres_database: str) -> None:
    """A process's first measurement pays for connecting. Taken as one round trip with the
    transaction's ``now()``, the server's time fell late in it and every timestamp of the
    process's first minute was 1.5-4 ms ahead (split-mode events arrived "before" they were
    made in ``bench.load``). The shortest of a few round trips, read with ``clock_timestamp()``,
    is within a fraction of a millisecond of it."""
    offsets = []
    for _ in range(3):
        db = make_database(postgres_database)  # a new pool: nothing connected yet
        try:
            clock = DatabaseClock(db)
            await clock.sync()
            offsets.append(abs(clock.offset))
        finally:
            await db.close()
    assert statistics.median(offsets) < timedelta(milliseconds=1), offsets


async def test_sync_keeps_the_last_offset_when_the_database_is_gone() -> None:
    """An outage during a measurement leaves the offset it had, not a guess."""
    unreachable = make_database("postgresql+asyncpg://postgres@127.0.0.1:1/gone")  # refused
    try:
        clock = DatabaseClock(unreachable)
        clock.offset = timedelta(seconds=5)
        await clock.sync()
    finally:
        await unreachable.close()
    assert clock.offset == timedelta(seconds=5)
