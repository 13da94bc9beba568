"""Serving ``dequeue`` for one SQLite queue in one process: waiters, shared claims and wakeups.

SAQ's Worker calls ``dequeue`` from every one of its process tasks at once. Instead of each call
polling the file, waiting calls line up here and a single claim round takes one job per waiter in
one statement, then hands the jobs out in the claim's order.

A round runs only when a job may have become claimable: after an in-process enqueue or retry
commits, when another process commits (``PRAGMA data_version`` changed), when the next scheduled
job falls due (a timer), or as a safety net when the Worker calls ``schedule()`` (every second).
An idle Worker therefore costs almost nothing, and a new job is claimed without a polling delay.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import sqlite3
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from saq.job import Job

from app.queues import sqlite_schema as sql
from app.queues.sqlite_store import Store, StoreClosedError

logger = logging.getLogger("saq")

# Claim back-off after storage errors: 50 ms doubling to 5 s, so a broken disk never spins.
BACKOFF_BASE = 0.05
BACKOFF_MAX = 5.0


class Claimer:
    """The dequeue side of one SQLiteQueue instance (the Store's ``Waker`` for its queue name)."""

    def __init__(
        self,
        store: Store,
        name: str,
        priorities: tuple[int, int],
        to_job: Callable[[bytes | str, int], Job],
        claimant: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.name = name
        self._claimant = claimant  # the worker id a claim records (None: not known yet)
        self._store = store
        self._priorities = priorities
        self._to_job = to_job  # (claimed blob, claim time in ms) -> active Job
        self._waiters: collections.deque[asyncio.Future[Job | None]] = collections.deque()
        self._claiming: asyncio.Task[None] | None = None
        self._may_have_jobs = True  # False once a round found fewer jobs than waiters
        self._claim_again = False
        self._closed = False
        self._failures = 0
        self._retry_at = 0.0
        self._retry_timer: asyncio.TimerHandle | None = None
        self._due_timer: asyncio.TimerHandle | None = None
        self._due_deadline = 0.0
        self._give_backs: set[asyncio.Task[None]] = set()

    async def dequeue(self, timeout: float) -> Job | None:  # noqa: ASYNC109 (SAQ's contract)
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Job | None] = loop.create_future()
        self._waiters.append(waiter)
        expiry = loop.call_later(timeout, _resolve, waiter, None) if timeout > 0 else None
        self._kick()
        try:
            return await waiter
        except asyncio.CancelledError:
            # A round may have handed us a job in the very tick we were cancelled.
            if waiter.done() and not waiter.cancelled() and (job := waiter.result()) is not None:
                self.give_back([job])
            raise
        finally:
            if expiry is not None:
                expiry.cancel()
            # Not ``remove`` under ``suppress(ValueError)``: the error's message is the repr of
            # the waiter, its job's with it, which SAQ builds from every field (4 % of a job).
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    async def dequeue_many(self, wanted: int, timeout: float) -> list[Job]:  # noqa: ASYNC109
        """Up to ``wanted`` jobs from one claim round (none if ``timeout`` runs out first).

        ``wanted`` waiters line up together, so one statement claims for all of them; a round
        hands out its jobs in one go, so once the first waiter has its job the round is over.
        """
        loop = asyncio.get_running_loop()
        waiters: list[asyncio.Future[Job | None]] = [loop.create_future() for _ in range(wanted)]
        self._waiters.extend(waiters)
        self._kick()
        try:
            await asyncio.wait(waiters[:1], timeout=timeout)
        except asyncio.CancelledError:
            taken = self._collect(waiters)
            if taken:
                self.give_back(taken)
            raise
        return self._collect(waiters)

    def _collect(self, waiters: list[asyncio.Future[Job | None]]) -> list[Job]:
        """The jobs handed to ``waiters``; the rest stop waiting."""
        jobs = []
        for waiter in waiters:
            if waiter.done():
                if not waiter.cancelled() and (job := waiter.result()) is not None:
                    jobs.append(job)
            else:
                waiter.cancel()
        if any(waiter.done() for waiter in self._waiters):
            self._waiters = collections.deque(w for w in self._waiters if not w.done())
        return jobs

    def wake(self) -> None:
        """A job may have become claimable: claim for whoever is waiting."""
        self._may_have_jobs = True
        self._kick()

    def wake_when_due(self, scheduled: float) -> None:
        """Wake at ``scheduled`` (epoch seconds), now if it is past."""
        delay = scheduled - time.time()
        if delay <= 0:
            self.wake()
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay + 0.001
        if self._due_timer is not None:
            if self._due_deadline <= deadline:
                return
            self._due_timer.cancel()
        self._due_deadline = deadline
        self._due_timer = loop.call_at(deadline, self._on_due)

    async def close(self) -> None:
        """Release every waiter with None and hand back jobs claimed for nobody."""
        self._closed = True
        for waiter in self._waiters:
            _resolve(waiter, None)
        self._waiters.clear()
        for timer in (self._due_timer, self._retry_timer):
            if timer is not None:
                timer.cancel()
        if self._claiming is not None:
            await asyncio.shield(self._claiming)
        if self._give_backs:
            await asyncio.shield(asyncio.gather(*self._give_backs, return_exceptions=True))

    # -- internals ------------------------------------------------------------------------------

    def _kick(self) -> None:
        if self._closed or not self._may_have_jobs:
            return
        if self._claiming is not None:
            self._claim_again = True
            return
        if all(waiter.done() for waiter in self._waiters):
            return
        loop = asyncio.get_running_loop()
        if loop.time() < self._retry_at:
            if self._retry_timer is None:
                self._retry_timer = loop.call_at(self._retry_at, self._after_back_off)
            return
        self._claiming = loop.create_task(self._claim_rounds(), name=f"saq-claim:{self.name}")

    def _on_due(self) -> None:
        self._due_timer = None
        self.wake()

    def _after_back_off(self) -> None:
        self._retry_timer = None
        self._kick()

    async def _claim_rounds(self) -> None:
        """Claim one job per waiting dequeuer, until nobody waits or nothing more is due."""
        try:
            while not self._closed:
                self._claim_again = False
                wanted = sum(1 for waiter in self._waiters if not waiter.done())
                if not wanted:
                    return
                current = time.time()  # not ms-rounded: a job enqueued this ms is due too
                claimed_at = int(current * 1000)
                params = {
                    "queue": self.name,
                    "low": self._priorities[0],
                    "high": self._priorities[1],
                    "limit": wanted,
                    "now": current,
                    "now_ms": claimed_at,
                    "claimant": self._claimant(),
                }
                try:
                    rows, next_due = await self._store.run(partial(sql.claim, params), quick=True)
                except (sqlite3.Error, StoreClosedError) as exc:
                    self._back_off(exc)
                    return
                self._failures = 0
                rows.sort(key=lambda row: row[:3])  # (priority, scheduled, rowid)
                leftovers = self._hand_out([self._to_job(row[4], claimed_at) for row in rows])
                if leftovers:
                    self.give_back(leftovers)
                if next_due is not None:
                    self.wake_when_due(next_due)
                if len(rows) < wanted and not self._claim_again:
                    self._may_have_jobs = False
                    return
        finally:
            self._claiming = None

    def _hand_out(self, jobs: list[Job]) -> list[Job]:
        leftovers = []
        for job in jobs:
            while self._waiters:
                waiter = self._waiters.popleft()
                if not waiter.done():
                    waiter.set_result(job)
                    break
            else:
                leftovers.append(job)
        return leftovers

    def give_back(self, jobs: list[Job]) -> None:
        """Re-queue claimed jobs whose dequeuer left (timed out, cancelled) before receiving, or
        that a worker claimed ahead and will not run (``close`` waits for these writes)."""
        store = self._store

        async def requeue() -> None:
            for job in jobs:
                params = {
                    "queue": self.name,
                    "key": job.key,
                    "started": job.started,
                    "claimant": job.worker_id,
                }
                try:
                    await store.run(
                        partial(sql.changes, sql.UNCLAIM, params),
                        on_commit=lambda _: store.wake(self.name),
                    )
                except (sqlite3.Error, StoreClosedError):
                    logger.exception("Could not re-queue claimed job %s; the sweep will", job.key)

        task = asyncio.get_running_loop().create_task(requeue())
        self._give_backs.add(task)
        task.add_done_callback(self._give_backs.discard)

    def _back_off(self, exc: BaseException) -> None:
        self._failures += 1
        delay = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (self._failures - 1))
        logger.warning(
            "Dequeue from %s failed (%s: %s); retrying in %.2f s",
            self.name,
            type(exc).__name__,
            exc,
            delay,
        )
        loop = asyncio.get_running_loop()
        self._retry_at = loop.time() + delay
        if self._retry_timer is None:
            self._retry_timer = loop.call_at(self._retry_at, self._after_back_off)


def _resolve(waiter: asyncio.Future[Any], value: Any) -> None:
    if not waiter.done():
        waiter.set_result(value)
