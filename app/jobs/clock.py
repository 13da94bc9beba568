"""The time a job's timestamps and leases are written and judged in: the database's.

A lease is written by the worker that runs the job and judged by whichever process leads
recovery, often on another host. Judged on each host's own wall clock, a worker running behind
writes leases that are already expired for the leader, and its healthy job is reaped at once
(tests/reliability/test_clock_skew.py, check D4). So every ``JobService`` timestamp is this
host's clock plus its measured offset to the database server's clock, re-measured every minute:
one tiny query, no extra round trip on the job path. SQLite has no clock of its own (it runs in
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


class DatabaseClock:
    """``clock()`` is the database server's time, as near as one round trip can tell."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    async def sync(self) -> None:
        """Measure the offset (half the round trip on either side); keep the last one if the
        database cannot be reached."""
        if self.db.dialect == "sqlite":
            return
        try:
            before = utcnow()
            server: datetime = await self.db.read(
                lambda c: c.execute(text("SELECT now()")).scalar_one()
            )
            after = utcnow()
        except Exception:  # a database outage: the last offset is still the best guess
            log.warning("clock.sync_failed", exc_info=True)
            return
        offset = server - (before + (after - before) / 2)
        if abs(offset - self.offset) > timedelta(seconds=1):
            log.info("clock.offset", extra={"offset_s": round(offset.total_seconds(), 3)})
        self.offset = offset

    async def run(self, every_s: float = SYNC_EVERY_S) -> None:
        while True:
            await anyio.sleep(every_s)
            await self.sync()
