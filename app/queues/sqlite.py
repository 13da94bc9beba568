"""SQLiteQueue: a SAQ queue in a local SQLite file, the no-server default backend.

It implements the primitives of ``saq.Queue`` so SAQ's Worker, cron, retries, aborts and web UI
work unchanged, and Redis or Postgres remain drop-in replacements (see ``make_queue``).

Design (``shared/notes/saq.md`` §11-12):

* A job is claimed by one ``UPDATE … RETURNING`` statement that also sets it ``active``, so no job
  is handed out twice, across tasks or processes, and no sweep can mistake a just-claimed job for
  a queued one (SAQ #124/#277).
* Dequeuers of one queue in one process share claims: a round claims as many jobs as there are
  waiting dequeuers and hands them out in order (``priority``, then ``scheduled``, then insertion).
* Waiting is event-driven: in-process enqueues and retries wake dequeuers after commit; commits of
  other processes are noticed through ``PRAGMA data_version``; the next scheduled job arms a timer.
* Storage errors while claiming are logged and retried with exponential back-off, so a broken
  disk never turns a Worker into a busy loop.
* The sweep also returns jobs whose worker stopped reporting (no live ``saq_stats`` row for its
  id): SAQ alone recovers them only by timeout.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import json
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

from saq.job import Job, Status
from saq.queue.base import Queue
from saq.types import CountKind, DumpType, ListenCallback, LoadType, QueueInfo, WorkerInfo
from saq.utils import now, now_seconds

from app.queues import sqlite_schema as sql
from app.queues.sqlite_store import Mode, Store, StoreClosedError, acquire_store, release_store

logger = logging.getLogger("saq")

T = TypeVar("T")
Row = tuple[Any, ...]

# Claim back-off after storage errors: 50 ms doubling to 5 s.
BACKOFF_BASE = 0.05
BACKOFF_MAX = 5.0


@dataclass(frozen=True, slots=True)
class _SweepScan:
    candidates: list[Row]
    recent_workers: set[str]


def path_from_url(url: str) -> str:
    """``sqlite:///rel/path.db`` → ``rel/path.db``; ``sqlite:////abs/x.db`` → ``/abs/x.db``."""
    parts = urlsplit(url)
    if parts.scheme.split("+", 1)[0].lower() != "sqlite" or parts.netloc or not parts.path[1:]:
        raise ValueError("expected a SQLite queue URL like sqlite:///data/queue.db")
    return parts.path[1:]


class SQLiteQueue(Queue):
    """A SAQ queue stored in a SQLite file that several queue names and processes can share.

    Args:
        path: the database file (its directory is created); ``-wal``/``-shm`` files live beside it.
        name: the queue name.
        dump, load: job (de)serializers, as for every SAQ queue (default JSON).
        priorities: the inclusive range of ``job.priority`` this instance claims, smaller first
            (same default as PostgresQueue, so negative priorities are not claimed by default).
        swept_error_message: the error recorded on swept jobs.
        busy_timeout: seconds a write waits for another process's write lock.
        watch_interval: seconds between checks for commits by other processes.
        liveness_grace: seconds after its stats expired before a worker counts as dead and its
            active jobs are swept (stats are written every 10 s with an 11 s TTL by SAQ's Worker).
    """

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> SQLiteQueue:
        return cls(path_from_url(url), **kwargs)

    def __init__(
        self,
        path: str | os.PathLike[str],
        name: str = "default",
        *,
        dump: DumpType | None = None,
        load: LoadType | None = None,
        priorities: tuple[int, int] = (0, 32767),
        swept_error_message: str | None = None,
        busy_timeout: float = 5.0,
        watch_interval: float = 0.1,
        liveness_grace: float = 30.0,
    ) -> None:
        super().__init__(name=name, dump=dump, load=load, swept_error_message=swept_error_message)
        self.path = os.fspath(path)
        self.priorities = priorities
        self.liveness_grace = liveness_grace
        self._busy_timeout = busy_timeout
        self._watch_interval = watch_interval
        self._owner = f"{uuid.uuid4()}"  # identifies this instance as sweeper
        self._store_handle: Store | None = None
        self._connect_lock = asyncio.Lock()
        self._was_connected = False
        # Claim dispatcher state (see dequeue).
        self._waiters: collections.deque[asyncio.Future[Job | None]] = collections.deque()
        self._claiming: asyncio.Task[None] | None = None
        self._claim_again = False
        self._closing = False
        self._failures = 0
        self._retry_at = 0.0
        self._retry_timer: asyncio.TimerHandle | None = None
        self._due_timer: asyncio.TimerHandle | None = None
        self._due_deadline = 0.0
        self._background: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"{type(self).__name__}<path={self.path!r}, name={self.name!r}>"

    # -- lifecycle ------------------------------------------------------------------------------

    async def connect(self) -> None:
        async with self._connect_lock:
            if self._store_handle is not None:
                return
            store = await acquire_store(
                self.path, busy_timeout=self._busy_timeout, watch_interval=self._watch_interval
            )
            store.attach(self)
            self._store_handle = store
            self._was_connected = True
            await super().connect()

    async def disconnect(self) -> None:
        """Release waiting dequeuers, hand back jobs claimed for nobody, close the connection."""
        async with self._connect_lock:
            store = self._store_handle
            if store is None:
                return
            self._closing = True
            try:
                for waiter in self._waiters:
                    _resolve(waiter, None)
                self._waiters.clear()
                for timer in (self._due_timer, self._retry_timer):
                    if timer is not None:
                        timer.cancel()
                if self._claiming is not None:
                    await asyncio.shield(self._claiming)
                if self._background:
                    await asyncio.shield(asyncio.gather(*self._background, return_exceptions=True))
            finally:
                store.detach(self)
                self._store_handle = None
                self._closing = False
                await release_store(store)

    @property
    def _store(self) -> Store:
        if self._store_handle is None:
            raise RuntimeError(f"{self!r} is not connected: await queue.connect() first")
        return self._store_handle

    # -- enqueue, update, finish, retry, abort ---------------------------------------------------

    async def _enqueue(self, job: Job) -> Job | None:
        scheduled = float(job.scheduled or now_seconds())
        params = {
            "queue": self.name,
            "key": job.key,
            "priority": job.priority,
            "scheduled": scheduled,
            "job": self.serialize(job),
        }

        store = self._store

        def announce(inserted: int) -> None:
            if inserted:
                store.publish(self.name, job.key, Status.QUEUED.value)
                self._announce(store, scheduled)

        if not await store.run(partial(_changes, sql.ENQUEUE, params), on_commit=announce):
            return None
        if logger.isEnabledFor(logging.INFO):
            logger.info("Enqueuing %s", job.info(logger.isEnabledFor(logging.DEBUG)))
        return job

    async def _update(self, job: Job, status: Status | None = None, **kwargs: Any) -> None:
        """Write the whole job; without ``status`` the stored status is kept (never undoes an
        abort), in the same statement."""
        if status is not None:
            job.status = status = Status(status)
        params = {
            "queue": self.name,
            "key": job.key,
            "status": job.status.value,
            "job": self.serialize(job),
            "started": job.started,
            "touched": job.touched,
            "worker_id": job.worker_id,
            "scheduled": job.scheduled,
        }
        statement = sql.UPDATE_WITH_STATUS if status is not None else sql.UPDATE_KEEP_STATUS
        stored = await self._store.run(
            partial(_scalar, statement, params), on_commit=partial(self._publish, job.key)
        )
        if stored is not None:
            job.status = Status(stored)

    async def _finish(
        self,
        job: Job,
        status: Status,
        *,
        result: Any = None,
        error: str | None = None,
    ) -> None:
        """Keep the record per ``job.ttl``: >0 until it expires, 0 forever, <0 delete now."""
        status = Status(status)
        params = {
            "queue": self.name,
            "key": job.key,
            "status": status.value,
            "job": self.serialize(job),
            "expire_at": now_seconds() + job.ttl if job.ttl > 0 else None,
        }
        statement = sql.DELETE if job.ttl < 0 else sql.FINISH

        store = self._store

        def published(_: int) -> None:
            store.publish(self.name, job.key, status.value)

        await store.run(partial(_changes, statement, params), on_commit=published)

    async def _retry(self, job: Job, error: str | None) -> None:
        """Back to ``queued``, due after ``job.next_retry_delay()`` (now when there is none)."""
        delay = job.next_retry_delay()
        scheduled = now_seconds() + delay if delay else float(job.scheduled or now_seconds())
        job.scheduled = int(scheduled)  # SAQ stores whole seconds in the job, as Postgres does
        params = {
            "queue": self.name,
            "key": job.key,
            "job": self.serialize(job),
            "scheduled": scheduled,
            "touched": job.touched,
        }

        store = self._store

        def announce(_: int) -> None:
            store.publish(self.name, job.key, Status.QUEUED.value)
            self._announce(store, scheduled)

        await store.run(partial(_changes, sql.RETRY, params), on_commit=announce)

    async def abort(self, job: Job, error: str, ttl: float = 5) -> None:
        """A queued (or missing) job becomes ``aborted`` at once; an active one ``aborting``, which
        its Worker notices within ``timers.abort`` and cancels. Finished jobs are left alone."""
        aborted = self.copy(job)
        aborted.status, aborted.error, aborted.completed = Status.ABORTED, error, now()
        aborting = self.copy(job)
        aborting.status, aborting.error, aborting.touched = Status.ABORTING, error, now()
        params = {
            "queue": self.name,
            "key": job.key,
            "aborted": self.serialize(aborted),
            "delete": job.ttl < 0,
            "expire_at": now_seconds() + job.ttl if job.ttl > 0 else None,
            "aborting": self.serialize(aborting),
            "touched": aborting.touched,
        }
        outcome = await self._store.run(
            partial(_abort, params), on_commit=partial(self._publish, job.key)
        )
        if outcome == Status.ABORTED.value:
            job.status, job.error, job.completed = Status.ABORTED, error, aborted.completed
            self.aborted += 1
            if logger.isEnabledFor(logging.INFO):
                logger.info("Finished %s", job.info(logger.isEnabledFor(logging.DEBUG)))
        elif outcome == Status.ABORTING.value:
            job.status, job.error = Status.ABORTING, error

    # -- reads ----------------------------------------------------------------------------------

    async def job(self, job_key: str) -> Job | None:
        return (await self.jobs([job_key]))[0]

    async def jobs(self, job_keys: Iterable[str]) -> list[Job | None]:
        keys = list(job_keys)
        if not keys:
            return []
        params = {"queue": self.name, "keys": json.dumps(keys), "now": now_seconds()}
        rows = await self._store.run(partial(_rows, sql.SELECT_JOBS, params), mode=Mode.READ)
        found = {row[0]: self._job_from_row(row) for row in rows}
        return [found.get(key) for key in keys]

    async def iter_jobs(
        self,
        statuses: Sequence[Status] = tuple(Status),
        batch_size: int = 100,
    ) -> AsyncIterator[Job]:
        """Every job of this queue with one of ``statuses``, paged by key."""
        wanted = json.dumps([Status(s).value for s in statuses])
        after = ""
        while True:
            params = {
                "queue": self.name,
                "after": after,
                "statuses": wanted,
                "limit": batch_size,
                "now": now_seconds(),
            }
            rows = await self._store.run(partial(_rows, sql.PAGE_JOBS, params), mode=Mode.READ)
            if not rows:
                return
            for row in rows:
                yield self._job_from_row(row)
            after = rows[-1][0]

    async def count(self, kind: CountKind) -> int:
        statements = {
            "queued": sql.COUNT_QUEUED,
            "active": sql.COUNT_ACTIVE,
            "incomplete": sql.COUNT_INCOMPLETE,
        }
        if kind not in statements:
            raise ValueError(f"Can't count unknown type {kind}")
        params = {"queue": self.name, "now": now_seconds()}
        return int(
            await self._store.run(partial(_scalar, statements[kind], params), mode=Mode.READ)
        )

    async def info(self, jobs: bool = False, offset: int = 0, limit: int = 10) -> QueueInfo:
        """SAQ's QueueInfo; ``jobs`` lists incomplete jobs (active first), honouring the page."""
        params = {"queue": self.name, "now": now_seconds(), "offset": offset, "limit": limit}
        workers, queued, active, incomplete, rows = await self._store.run(
            partial(_info, params, with_jobs=jobs), mode=Mode.READ
        )
        return {
            "workers": {
                worker_id: {
                    "stats": json.loads(stats) if stats else None,
                    "queue_key": queue_key,
                    "metadata": json.loads(metadata) if metadata else None,
                }
                for worker_id, stats, queue_key, metadata in workers
            },
            "name": self.name,
            "queued": queued,
            "active": active,
            "scheduled": incomplete - queued - active,
            "jobs": [self._job_from_row(row).to_dict() for row in rows],
        }

    async def write_worker_info(self, worker_id: str, info: WorkerInfo, ttl: int) -> None:
        params = {
            "worker_id": worker_id,
            "queue_key": info["queue_key"],
            "stats": json.dumps(info["stats"]),
            "metadata": json.dumps(info["metadata"]),
            "expire_at": now_seconds() + ttl,
        }
        await self._store.run(partial(_changes, sql.WRITE_WORKER, params))

    # -- listen ---------------------------------------------------------------------------------

    async def listen(
        self,
        job_keys: Iterable[str],
        callback: ListenCallback,
        timeout: float | None = 10,  # noqa: ASYNC109 (SAQ's signature)
        poll_interval: float = 0.5,
    ) -> None:
        """Call ``callback(key, status)`` on each status change until it returns truthy.

        Changes made in this process arrive at once; changes by other processes are picked up
        every ``poll_interval`` if the file changed. The current status is reported first, so a
        job that finished just before listening is not missed.
        """
        keys = list(job_keys)
        if not keys:
            return
        store = self._store
        inbox = store.subscribe(self.name, keys)
        try:
            async with asyncio.timeout(timeout or None):
                await self._listen(store, keys, callback, inbox, poll_interval)
        finally:
            store.unsubscribe(inbox)

    async def _listen(
        self,
        store: Store,
        keys: list[str],
        callback: ListenCallback,
        inbox: asyncio.Queue[tuple[str, str]],
        poll_interval: float,
    ) -> None:
        seen: dict[str, str] = {}

        async def report(key: str, status: str) -> bool:
            if seen.get(key) == status:
                return False
            seen[key] = status
            outcome = callback(key, Status(status))
            if inspect.isawaitable(outcome):
                outcome = await outcome
            return bool(outcome)

        async def poll() -> bool:
            for job in await self.jobs(keys):
                if job is not None and await report(job.key, job.status.value):
                    return True
            return False

        version = store.foreign_version
        if await poll():
            return
        while True:
            try:
                key, status = await asyncio.wait_for(inbox.get(), poll_interval)
            except TimeoutError:
                if store.foreign_version != version:
                    version = store.foreign_version
                    if await poll():
                        return
                continue
            if await report(key, status):
                return

    # -- dequeue --------------------------------------------------------------------------------

    async def dequeue(
        self,
        timeout: float = 0.0,  # noqa: ASYNC109 (SAQ's signature)
        poll_interval: float = 0.0,
    ) -> Job | None:
        """Wait up to ``timeout`` seconds (0 = forever) for a job and return it claimed (active).

        Waiters are served in arrival order by shared claim rounds (see ``_claim_rounds``).
        """
        if self._store_handle is None or self._closing:
            if not self._was_connected:
                raise RuntimeError(f"{self!r} is not connected: await queue.connect() first")
            # Disconnected under a running Worker: idle instead of spinning.
            await asyncio.sleep(timeout or 1.0)
            return None
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Job | None] = loop.create_future()
        self._waiters.append(waiter)
        expiry = loop.call_later(timeout, _resolve, waiter, None) if timeout > 0 else None
        self.wake()
        try:
            return await waiter
        except asyncio.CancelledError:
            # A claim may have handed us a job in the very tick we were cancelled.
            if waiter.done() and not waiter.cancelled() and (job := waiter.result()) is not None:
                self._give_back([job])
            raise
        finally:
            if expiry is not None:
                expiry.cancel()
            with suppress(ValueError):
                self._waiters.remove(waiter)

    def wake(self) -> None:
        """A job may be claimable: start a claim round, or make the running one go again."""
        if self._closing or self._store_handle is None:
            return
        if self._claiming is not None:
            self._claim_again = True
            return
        if not any(not waiter.done() for waiter in self._waiters):
            return
        loop = asyncio.get_running_loop()
        if loop.time() < self._retry_at:  # backing off after a storage error
            if self._retry_timer is None:
                self._retry_timer = loop.call_at(self._retry_at, self._retry_now)
            return
        self._claiming = loop.create_task(self._claim_rounds(), name=f"saq-claim:{self.name}")

    def _retry_now(self) -> None:
        self._retry_timer = None
        self.wake()

    def _announce(self, store: Store, scheduled: float) -> None:
        """After a commit: wake dequeuers of this queue now, or when ``scheduled`` comes due."""
        delay = scheduled - time.time()
        if delay <= 0:
            store.wake(self.name)
        else:
            self._wake_later(delay)

    def _wake_later(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay + 0.001
        if self._due_timer is not None and self._due_deadline <= deadline:
            return
        if self._due_timer is not None:
            self._due_timer.cancel()
        self._due_deadline = deadline
        self._due_timer = loop.call_at(deadline, self._on_due)

    def _on_due(self) -> None:
        self._due_timer = None
        self.wake()

    async def _claim_rounds(self) -> None:
        """Claim one job per waiting dequeuer in one statement, until none waits or none is due."""
        try:
            while not self._closing:
                self._claim_again = False
                wanted = sum(1 for waiter in self._waiters if not waiter.done())
                if not wanted:
                    return
                claimed_at = now()
                params = {
                    "queue": self.name,
                    "low": self.priorities[0],
                    "high": self.priorities[1],
                    "limit": wanted,
                    "now": claimed_at / 1000,
                    "now_ms": claimed_at,
                }
                try:
                    rows, next_due = await self._store.run(partial(_claim, params))
                except (sqlite3.Error, StoreClosedError) as exc:
                    self._back_off(exc)
                    return
                self._failures = 0
                rows.sort(key=lambda row: row[:3])  # RETURNING order is unspecified
                jobs = [self._claimed_job(row, claimed_at) for row in rows]
                leftovers = self._hand_out(jobs)
                if leftovers:
                    self._give_back(leftovers)
                if next_due is not None:
                    self._wake_later(next_due - time.time())
                if len(rows) < wanted and not self._claim_again:
                    return
        finally:
            self._claiming = None

    def _claimed_job(self, row: Row, claimed_at: int) -> Job:
        job = self.deserialize(row[4], Status.ACTIVE)
        assert job is not None
        job.started = job.touched = claimed_at
        return job

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

    def _give_back(self, jobs: list[Job]) -> None:
        """Re-queue claimed jobs whose dequeuer left (timed out or cancelled) before receiving."""

        store = self._store

        async def requeue() -> None:
            for job in jobs:
                params = {"queue": self.name, "key": job.key, "started": job.started}
                try:
                    await store.run(
                        partial(_changes, sql.UNCLAIM, params),
                        on_commit=lambda _: store.wake(self.name),
                    )
                except (sqlite3.Error, StoreClosedError):
                    logger.exception("Could not re-queue claimed job %s; the sweep will", job.key)

        task = asyncio.get_running_loop().create_task(requeue())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

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
            self._retry_timer = loop.call_at(self._retry_at, self._retry_now)

    async def schedule(self, lock: int = 1) -> list[str]:
        """Called by the Worker every second: a cheap safety net that wakes idle dequeuers."""
        self.wake()
        return []

    # -- sweep ----------------------------------------------------------------------------------

    async def sweep(self, lock: int = 60, abort: float = 5.0) -> list[str]:
        """Under a lease (one sweeper per queue): purge expired jobs and stats, sweep stuck jobs as
        SAQ does, and return jobs of dead workers to the queue (liveness recovery)."""
        current = now_seconds()
        params = {
            "queue": self.name,
            "name": f"sweep:{self.name}",
            "owner": self._owner,
            "expire_at": current + lock,
            "now": current,
            "horizon": current - self.liveness_grace,
        }
        scan = await self._store.run(partial(_sweep_scan, params))
        if scan is None:
            return []
        swept = []
        grace_ms = self.liveness_grace * 1000
        for row in scan.candidates:
            job = self._job_from_row(row)
            worker_id = row[5]
            if job.stuck:
                await self._sweep_stuck(job, abort)
            elif (
                worker_id is not None
                and worker_id not in scan.recent_workers
                and now() - max(job.started, job.touched) > grace_ms
            ):
                logger.info("Sweeping %s: worker %s is gone", job.key, worker_id)
                await self._give_up_on(job)
            else:
                continue
            swept.append(job.key)
        with suppress(sqlite3.Error):
            await self._store.run(_checkpoint, mode=Mode.BARE)
        return swept

    async def _sweep_stuck(self, job: Job, abort: float) -> None:
        """Exactly SAQ's handling: abort, wait up to ``abort`` s for the worker, retry or fail."""
        logger.info("Sweeping %s", job.info(logger.isEnabledFor(logging.DEBUG)))
        await self.abort(job, error=self.swept_error_message)
        try:
            await job.refresh(abort)
        except TimeoutError:
            logger.info("Could not abort job %s", job.key)
        await self._give_up_on(job)

    async def _give_up_on(self, job: Job) -> None:
        if job.retryable:
            await self.retry(job, error=self.swept_error_message)
        else:
            await self.finish(job, Status.ABORTED, error=self.swept_error_message)

    # -- helpers --------------------------------------------------------------------------------

    def _job_from_row(self, row: Row) -> Job:
        """(key, blob, status, started, touched): the status column wins over the blob, and the
        claim's timestamps fill in until the Worker writes its own."""
        job = self.deserialize(row[1], row[2])
        assert job is not None
        job.started = job.started or row[3]
        job.touched = job.touched or row[4]
        return job

    def _publish(self, key: str, status: str | None) -> None:
        if status is not None and self._store_handle is not None:
            self._store_handle.publish(self.name, key, status)


def _resolve(waiter: asyncio.Future[Job | None], value: Job | None) -> None:
    if not waiter.done():
        waiter.set_result(value)


# -- statements run on the connection's thread (see sqlite_store.Store.run) -----------------------


def _changes(statement: str, params: dict[str, Any], conn: sqlite3.Connection) -> int:
    return conn.execute(statement, params).rowcount


def _scalar(statement: str, params: dict[str, Any], conn: sqlite3.Connection) -> Any:
    row = conn.execute(statement, params).fetchone()
    return row[0] if row else None


def _rows(statement: str, params: dict[str, Any], conn: sqlite3.Connection) -> list[Row]:
    return conn.execute(statement, params).fetchall()


def _claim(params: dict[str, Any], conn: sqlite3.Connection) -> tuple[list[Row], float | None]:
    rows = conn.execute(sql.CLAIM, params).fetchall()
    next_due = None
    if len(rows) < params["limit"]:
        next_due = conn.execute(sql.NEXT_DUE, params).fetchone()[0]
    return rows, next_due


def _abort(params: dict[str, Any], conn: sqlite3.Connection) -> str | None:
    """Read the status and act on it in one write transaction; return the new status."""
    row = conn.execute(sql.STATUS_OF, params).fetchone()
    status = row[0] if row else None
    if status is None:
        return Status.ABORTED.value
    if status in (Status.NEW.value, Status.QUEUED.value):
        if params["delete"]:
            conn.execute(sql.DELETE, params)
        else:
            finish = {**params, "status": Status.ABORTED.value, "job": params["aborted"]}
            conn.execute(sql.FINISH, finish)
        return Status.ABORTED.value
    if status in (Status.ACTIVE.value, Status.ABORTING.value):
        conn.execute(sql.ABORTING, {**params, "job": params["aborting"]})
        return Status.ABORTING.value
    return None  # already finished: nothing to abort


def _info(
    params: dict[str, Any], conn: sqlite3.Connection, *, with_jobs: bool
) -> tuple[list[Row], int, int, int, list[Row]]:
    workers = conn.execute(sql.LIVE_WORKERS, params).fetchall()
    queued = conn.execute(sql.COUNT_QUEUED, params).fetchone()[0]
    active = conn.execute(sql.COUNT_ACTIVE, params).fetchone()[0]
    incomplete = conn.execute(sql.COUNT_INCOMPLETE, params).fetchone()[0]
    rows = conn.execute(sql.INCOMPLETE_JOBS, params).fetchall() if with_jobs else []
    return workers, queued, active, incomplete, rows


def _sweep_scan(params: dict[str, Any], conn: sqlite3.Connection) -> _SweepScan | None:
    if conn.execute(sql.TAKE_LEASE, params).rowcount == 0:
        return None
    conn.execute(sql.PURGE_JOBS, params)
    conn.execute(sql.PURGE_STATS, params)
    candidates = conn.execute(sql.SWEEP_CANDIDATES, params).fetchall()
    recent = {row[0] for row in conn.execute(sql.RECENT_WORKERS, params)}
    return _SweepScan(candidates, recent)


def _checkpoint(conn: sqlite3.Connection) -> None:
    """Fold the WAL back into the file; wait at most 100 ms for readers so queue calls queued
    behind it are not held up."""
    (previous,) = conn.execute("PRAGMA busy_timeout").fetchone()
    conn.execute("PRAGMA busy_timeout = 100")
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(previous)}")
