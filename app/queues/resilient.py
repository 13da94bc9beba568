"""SAQ's Redis and Postgres queues, made to wait out an outage instead of spinning.

A SAQ worker slot calls ``dequeue`` again as soon as it returns or raises; with Redis down that is
thousands of failed attempts a second, a busy loop that starves the HTTP server sharing the event
loop (``shared/notes/saq.md`` §0.6). Here a failing ``dequeue`` sleeps with exponential backoff
(shared by the queue's slots) and returns None; the worker's upkeep calls (sweep, schedule, worker
heartbeat) are skipped quietly while the backend is away. One log line marks the start of the
outage and one its end; when the backend is back the next attempt simply works (the clients
reconnect by themselves), so no restart is needed.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from saq.job import Job
from saq.queue.base import Queue
from saq.queue.postgres import PostgresQueue
from saq.queue.redis import RedisQueue
from saq.types import WorkerInfo

from app.outage import Backoff, Outage

log = logging.getLogger("atspro.queue")


class Resilient(Queue):
    """Put first among the bases of a SAQ backend class (its ``super()`` is then the backend, so
    the abstract-method calls below are safe: hence the ``safe-super`` ignores)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.backoff = Backoff(first_s=0.1, max_s=2.0)
        self.outage = Outage(log, f"queue.{self.name}")

    async def dequeue(self, timeout: float = 0.0, poll_interval: float = 0.0) -> Job | None:  # noqa: ASYNC109 (SAQ's signature)
        try:
            job = await super().dequeue(timeout, poll_interval)  # type: ignore[safe-super]
        except Exception as error:
            self.outage.failed(error)
            await anyio.sleep(self.backoff.next_delay())
            return None
        self.backoff.reset()
        self.outage.recovered()
        return job

    async def sweep(self, lock: int = 60, abort: float = 5.0) -> list[str]:
        try:
            swept: list[str] = await super().sweep(lock, abort)  # type: ignore[safe-super]
        except Exception as error:
            self.outage.failed(error)
            return []
        return swept

    async def schedule(self, lock: int = 1) -> list[str]:
        try:
            scheduled: list[str] = await super().schedule(lock)
        except Exception as error:
            self.outage.failed(error)
            return []
        return scheduled

    async def write_worker_info(self, worker_id: str, info: WorkerInfo, ttl: int) -> None:
        try:
            await super().write_worker_info(worker_id, info, ttl)  # type: ignore[safe-super]
        except Exception as error:
            self.outage.failed(error)


class ResilientRedisQueue(Resilient, RedisQueue):
    pass


class ResilientPostgresQueue(Resilient, PostgresQueue):
    pass
