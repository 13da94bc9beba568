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
from saq.job import Job, Status
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
    """A job in the active list whose record still says ``queued`` has usually just been claimed:
    ``dequeue`` moves it there and its worker marks it active a moment later. SAQ's sweep takes
    it for stuck in that moment and retries it, so it runs twice (tobymao/saq#124, #277,
    reproduced by tests/reliability/test_sweep_race.py). Here such a job is swept only if this
    queue saw it like that at its previous sweep too: a job whose worker died before marking it
    is still recovered, one sweep later; every other case is swept as SAQ does."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._claimed_at_last_sweep: set[bytes] = set()

    async def sweep(self, lock: int = 60, abort: float = 5.0) -> list[str]:
        try:
            return await self._sweep_active(lock, abort)
        except Exception as error:
            self.outage.failed(error)
            return []

    async def _sweep_active(self, lock: int, abort: float) -> list[str]:
        """SAQ 0.26's ``RedisQueue.sweep`` (same script, same steps) with the grace above."""
        if not self._cleanup_script:
            self._cleanup_script = self.redis.register_script(
                """
                local id_jobs = {}
                if redis.call('EXISTS', KEYS[1]) == 0 then
                    redis.call('SETEX', KEYS[1], ARGV[1], 1)
                    for i, v in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
                        id_jobs[i] = {v, redis.call('GET', v)}
                    end
                end
                return id_jobs
                """
            )
        id_jobs = await self._cleanup_script(
            keys=[self._sweep, self._active], args=[lock], client=self.redis
        )
        if not id_jobs:  # another queue holds the sweep lock, or nothing is active
            return []
        swept: list[bytes] = []
        claimed: set[bytes] = set()
        for job_id, job_bytes in id_jobs:
            job = self.deserialize(job_bytes)
            if job is None:
                swept.append(job_id)
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.lrem(self._active, 0, job_id)
                    pipe.zrem(self._incomplete, job_id)
                    await pipe.execute()
                log.info("queue.swept_missing", extra={"job": job_id.decode()})
                continue
            if job.status == Status.QUEUED and job_id not in self._claimed_at_last_sweep:
                claimed.add(job_id)  # most likely claimed a moment ago: look again next time
                continue
            if job.status != Status.ACTIVE or job.stuck:
                log.info("queue.sweeping", extra={"job": job.key, "status": job.status})
                swept.append(job_id)
                await self.abort(job, error=self.swept_error_message)
                try:
                    await job.refresh(abort)
                except TimeoutError:
                    log.info("queue.abort_unconfirmed", extra={"job": job.key})
                if job.retryable:
                    await self.retry(job, error=self.swept_error_message)
                else:
                    await self.finish(job, Status.ABORTED, error=self.swept_error_message)
        self._claimed_at_last_sweep = claimed
        return [job_id.decode("utf-8") for job_id in swept]


class ResilientPostgresQueue(Resilient, PostgresQueue):
    pass
