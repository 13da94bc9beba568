"""The time a job's timestamps and leases are written and judged in: the database's.

A lease is written by the worker that runs the job and judged by whichever process leads
recovery, often on another host. Judged on each host's own wall clock, a worker running behind
writes leases that are already expired for the leader, and its healthy job is reaped at once
(tests/reliability/test_clock_skew.py, check D4). So every ``JobService`` timestamp is this
host's clock plus its measured offset to the database server's clock, re-measured every minute:
three tiny queries, no extra round trip on the job path. SQLite has no clock of its own (it runs in
this process, on this host's time), so there the offset stays zero.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import anyio
from sqlalchemy import text

from app.db import Database, utcnow

log = logging.getLogger("atspro.clock")

SYNC_EVERY_S = 60.0
# Round trips per measurement; the one with the shortest round trip gives the offset. The first
# of a process pays for connecting (its server time comes late in the window, off by half the
# connect time, 1.5-4 ms here), and any one under load can wait on the pool or the loop.
SAMPLES = 3
_SERVER_TIME = text("SELECT clock_timestamp()")  # now(): the transaction's start, not the read's


class DatabaseClock:
    """``clock()`` is the database server's time, as near as one round trip can tell."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    async def sync(self) -> None:
        """Measure the offset: of ``SAMPLES`` round trips, the shortest, with the server's time
        taken as its midpoint. Keep the last offset if the database cannot be reached."""
        if self.db.dialect == "sqlite":
            return
        best: tuple[timedelta, timedelta] | None = None  # (round trip, offset)
        try:
            for _ in range(SAMPLES):
                before = utcnow()
                server: datetime = await self.db.read(
                    lambda c: c.execute(_SERVER_TIME).scalar_one()
                )
                after = utcnow()
                trip = after - before
                if best is None or trip < best[0]:
                    best = (trip, server - (before + trip / 2))
        except Exception:  # a database outage: the last offset is still the best guess
            log.warning("clock.sync_failed", exc_info=True)
        if best is None:
            return
        trip, offset = best
        if abs(offset - self.offset) > timedelta(seconds=1):
            log.info(
                "clock.offset",
                extra={
                    "offset_s": round(offset.total_seconds(), 3),
                    "within_s": round(trip.total_seconds() / 2, 4),  # half the round trip
                },
            )
        self.offset = offset

    async def run(self, every_s: float = SYNC_EVERY_S) -> None:
        while True:
            await anyio.sleep(every_s)
            await self.sync()
