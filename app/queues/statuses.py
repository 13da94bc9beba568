"""What a queue holds for some job keys, as statuses: the reconciler's one question to a queue."""

from __future__ import annotations

from collections.abc import Sequence

from saq.job import Status
from saq.queue.base import Queue

from app.queues.sqlite import SQLiteQueue


async def statuses(queue: Queue, keys: Sequence[str]) -> list[Status | None]:
    """Each key's status in ``queue`` (None: not held). Our SQLite queue reads the status column
    alone; SAQ's Redis and Postgres queues have no such read, so their records are fetched."""
    if isinstance(queue, SQLiteQueue):
        return await queue.statuses(keys)
    return [None if job is None else job.status for job in await queue.jobs(keys)]
