"""SQLiteQueue: a SAQ queue in a local SQLite file, the no-server default backend.

It implements the primitives of ``saq.Queue`` so SAQ's Worker, cron, retries, aborts and web UI
work unchanged, and Redis or Postgres remain drop-in replacements (see ``make_queue``).

Design (``shared/notes/saq.md`` §11-12):

* A job is claimed by one ``UPDATE … RETURNING`` statement that also sets it ``active``, so no job
  is handed out twice, across tasks or processes, and no sweep can mistake a just-claimed job for
  a queued one (SAQ #124/#277).
* Dequeuers of one queue in one process share claims and wait for events, not polls
  (``sqlite_claims``); the connection is shared per file and commits in groups
  (``sqlite_store``); tables and statements live in ``sqlite_schema``.
* The sweep also returns jobs whose worker stopped reporting (no live ``saq_stats`` row for its
  id): SAQ alone recovers them only by timeout.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import logging
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from saq.job import Job, Status
from saq.queue.base import Queue
from saq.types import CountKind, DumpType, ListenCallback, LoadType, QueueInfo, WorkerInfo
from saq.utils import now, now_seconds

from app.json_codec import dump_json
from app.queues import sqlite_schema as sql
from app.queues.sqlite_claims import Claimer
from app.queues.sqlite_store import Mode, Store, acquire_store, release_store

logger = logging.getLogger("saq")


def path_from_url(url: str) -> str:
    """``sqlite:///rel/path.db`` → ``rel/path.db``; ``sqlite:////abs/x.db`` → ``/abs/x.db``."""
    parts = urlsplit(url)
    if parts.scheme.split("+", 1)[0].lower() != "sqlite" or parts.netloc or not parts.path[1:]:
        raise ValueError("expected a SQLite queue URL like sqlite:///data/queue.db")
    return parts.path[1:]


_JOB_FIELDS = tuple((field.name, field.default) for field in dataclasses.fields(Job))


def job_record(job: Job) -> dict[str, Any]:
    """``job.to_dict()``: every field that differs from its default, ``meta`` only when not
    empty, the queue by name (tests/integration/queues/test_sqlite_queue.py holds them equal).
    The comparison is inline, not a helper per field: a record is written per job."""
    record: dict[str, Any] = {}
    for key, default in _JOB_FIELDS:
        value = getattr(job, key)
        if value is default:
            continue
        try:
            if value == default:
                continue
        except ValueError:  # as SAQ compares: an array's ``==`` may raise, and then differs
            pass
        if key == "meta" and not value:
            continue
        if key == "queue" and value:
            value = value.name
        record[key] = value
    return record


class SQLiteQueue(Queue):
    """A SAQ queue stored in a SQLite file that several queue names and processes can share.

    Args:
        path: the database file (its directory is created); ``-wal``/``-shm`` files live beside it.
        name: the queue name.
        dump, load: job (de)serializers, as for every SAQ queue (default JSON, written by
            orjson).
        priorities: the inclusive range of ``job.priority`` this instance claims, smaller first
            (same default as PostgresQueue, so negative priorities are not claimed by default).
        swept_error_message: the error recorded on swept jobs.
        busy_timeout: seconds a write waits for another process's write lock.
        watch_interval: seconds between checks for commits by other processes.
        liveness_grace: seconds after its stats expired before a worker counts as dead and its
            active jobs are swept (SAQ's Worker writes stats every 10 s with an 11 s TTL).

    Queues on the same file in the same event loop share one connection; the first to connect
    sets ``busy_timeout`` and ``watch_interval`` for all of them.
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
        super().__init__(
            name=name, dump=dump or dump_json, load=load, swept_error_message=swept_error_message
        )
        self.path = os.fspath(path)
        self.priorities = priorities
        self.liveness_grace = liveness_grace
        self._busy_timeout = busy_timeout
        self._watch_interval = watch_interval
        self._sweeper_id = str(uuid.uuid4())  # this instance's name on the sweep lease
        self._connect_lock = asyncio.Lock()
        self._connection: tuple[Store, Claimer] | None = None
        self._was_connected = False
        # The one Worker dequeuing from this instance, once it has said so (``claim_for``).
        self.claimant: str | None = None
        self._unmarked: set[str] = set()  # claimed for the claimant, not yet marked by it

    def __repr__(self) -> str:
        return f"{type(self).__name__}<path={self.path!r}, name={self.name!r}>"

    # -- lifecycle ------------------------------------------------------------------------------

    async def connect(self) -> None:
        async with self._connect_lock:
            if self._connection is not None:
                return
            store = await acquire_store(
                self.path, busy_timeout=self._busy_timeout, watch_interval=self._watch_interval
            )
            claimer = Claimer(
                store, self.name, self.priorities, self._claimed_job, lambda: self.claimant
            )
            store.attach(claimer)
            self._connection = (store, claimer)
            self._was_connected = True
            await super().connect()

    async def disconnect(self) -> None:
        """Release waiting dequeuers, hand back jobs claimed for nobody, close the connection."""
        async with self._connect_lock:
            if self._connection is None:
                return
            store, claimer = self._connection
            self._connection = None
            try:
                await claimer.close()
            finally:
                store.detach(claimer)
                await release_store(store)

    @property
    def _store(self) -> Store:
        if self._connection is None:
            raise RuntimeError(f"{self!r} is not connected: await queue.connect() first")
        return self._connection[0]

    # -- dequeue --------------------------------------------------------------------------------

    async def dequeue(
        self,
        timeout: float = 0.0,  # noqa: ASYNC109 (SAQ's signature)
        poll_interval: float = 0.0,
    ) -> Job | None:
        """Wait up to ``timeout`` seconds (0 = forever) for a job and return it claimed (active)."""
        if self._connection is None:
            if not self._was_connected:
                raise RuntimeError(f"{self!r} is not connected: await queue.connect() first")
            # Disconnected under a running Worker: idle rather than make it spin.
            await asyncio.sleep(timeout or 1.0)
            return None
        return await self._connection[1].dequeue(timeout)

    async def dequeue_many(self, wanted: int, timeout: float) -> list[Job]:  # noqa: ASYNC109
        """Up to ``wanted`` claimed jobs from one claim statement, or none after ``timeout``
        seconds (for a worker that fills all its free slots at once)."""
        if self._connection is None:
            if not self._was_connected:
                raise RuntimeError(f"{self!r} is not connected: await queue.connect() first")
            await asyncio.sleep(timeout or 1.0)
            return []
        return await self._connection[1].dequeue_many(wanted, timeout)

    def give_back(self, jobs: list[Job]) -> None:
        """Put claimed jobs back as they were before the claim, without counting an attempt
        (a worker that claimed ahead and is stopping, or held them too long)."""
        if jobs and self._connection is not None:
            self._connection[1].give_back(jobs)

    async def schedule(self, lock: int = 1) -> list[str]:
        """Called by the Worker every second; timers already cover scheduled jobs, so this is only
        a safety net that lets idle dequeuers look again."""
        if self._connection is not None:
            self._connection[1].wake()
        return []

    def claim_for(self, worker_id: str) -> None:
        """Record ``worker_id`` in every claim from now on: the one Worker using this instance.

        SAQ's Worker marks each job it dequeues ``active`` with its id right after the claim, a
        second write per job on the path from claim to start. A claim that already stored the
        status, the claim time and the worker's id leaves that write nothing the sweep needs, so
        it is skipped (the job's full record is written when it finishes, retries or is
        updated again). Without ``claim_for`` every write happens as SAQ makes it.
        """
        self.claimant = worker_id

    def serialize(self, job: Job) -> bytes | str:
        """SAQ's record of the job (``Job.to_dict``, dumped), a job per write on the hot path:
        the same dict, without asking ``dataclasses.fields`` for the field list every time."""
        return self._dump(job_record(job))

    def _claimed_job(self, blob: bytes | str, claimed_at: int) -> Job:
        job = self.deserialize(blob, Status.ACTIVE)
        assert job is not None
        job.started = job.touched = claimed_at
        if self.claimant is not None:
            job.worker_id = self.claimant
            self._unmarked.add(job.key)
        return job

    def _publisher(self, store: Store, key: str) -> Callable[[str | None], None]:
        """An on-commit callback telling this process's listeners of ``key`` its new status."""

        def publish(status: str | None) -> None:
            if status is not None:
                store.publish(self.name, key, status)

        return publish

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
        due = scheduled <= now_seconds()
        if due:
            # Wake this process's idle dequeuers before the insert is sent, not after its
            # commit: their claim then runs in the insert's transaction (the Store sends what
            # is asked in one loop turn together, in order) instead of a thread hop and two
            # loop turns later. A claim already under way claims again after it.
            store.wake(self.name)

        def announce(inserted: int) -> None:
            if inserted:
                store.publish(self.name, job.key, Status.QUEUED.value)
                if not due:
                    store.wake(self.name, scheduled)

        if not await store.run(
            partial(sql.changes, sql.ENQUEUE, params), on_commit=announce, quick=True
        ):
            return None
        if logger.isEnabledFor(logging.INFO):
            logger.info("Enqueuing %s", job.info(logger.isEnabledFor(logging.DEBUG)))
        return job

    async def _update(self, job: Job, status: Status | None = None, **kwargs: Any) -> None:
        """Write the whole job; without ``status`` the stored status is kept (never undoes an
        abort), in the same statement."""
        if status is not None:
            job.status = status = Status(status)
        if job.key in self._unmarked:
            self._unmarked.discard(job.key)
            if status is Status.ACTIVE and job.worker_id == self.claimant:
                return  # the claim stored all of it (``claim_for``)
        params = {
            "queue": self.name,
            "key": job.key,
            "status": Status(job.status).value,
            "job": self.serialize(job),
            "started": job.started,
            "touched": job.touched,
            "worker_id": job.worker_id,
            "scheduled": job.scheduled,
        }
        statement = sql.UPDATE_WITH_STATUS if status is not None else sql.UPDATE_KEEP_STATUS
        store = self._store
        stored = await store.run(
            partial(sql.scalar, statement, params),
            on_commit=self._publisher(store, job.key),
            quick=True,
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
        self._unmarked.discard(job.key)
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
        await store.run(
            partial(sql.changes, statement, params),
            on_commit=lambda _: store.publish(self.name, job.key, status.value),
            quick=True,
        )

    async def finish_many(self, outcomes: Sequence[tuple[Job, Status, Any, str | None]]) -> None:
        """``finish`` for many jobs (job, status, result, error) in one write: what a worker
        that finishes jobs in groups calls instead of one ``finish`` per job."""
        if not outcomes:
            return
        finished_at = now()
        expire_base = now_seconds()
        statements: dict[str, list[dict[str, Any]]] = {}
        for job, status, result, error in outcomes:
            self._unmarked.discard(job.key)
            job.status, job.result, job.error, job.completed = status, result, error, finished_at
            if status == Status.COMPLETE:
                job.progress = 1.0
                self.complete += 1
            elif status == Status.FAILED:
                self.failed += 1
            elif status == Status.ABORTED:
                self.aborted += 1
            params = {
                "queue": self.name,
                "key": job.key,
                "status": Status(status).value,
                "job": self.serialize(job),
                "expire_at": expire_base + job.ttl if job.ttl > 0 else None,
            }
            statements.setdefault(sql.DELETE if job.ttl < 0 else sql.FINISH, []).append(params)
        store = self._store

        def announce(_: Any) -> None:
            for job, status, _result, _error in outcomes:
                store.publish(self.name, job.key, Status(status).value)

        await store.run(partial(sql.changes_many, statements), on_commit=announce, quick=True)
        if logger.isEnabledFor(logging.INFO):
            for job, *_ in outcomes:
                logger.info("Finished %s", job.info(logger.isEnabledFor(logging.DEBUG)))

    async def _retry(self, job: Job, error: str | None) -> None:
        """Back to ``queued``, due after ``job.next_retry_delay()`` (now when there is none)."""
        self._unmarked.discard(job.key)
        delay = job.next_retry_delay()
        scheduled = now_seconds() + delay if delay else float(job.scheduled or now_seconds())
        job.scheduled = int(scheduled)  # SAQ keeps whole seconds in the job, as Postgres does
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
            store.wake(self.name, scheduled)

        await store.run(partial(sql.changes, sql.RETRY, params), on_commit=announce, quick=True)

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
        store = self._store
        outcome = await store.run(
            partial(sql.abort, params),
            on_commit=self._publisher(store, job.key),
            quick=True,
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
        found = await self._store.run(partial(sql.rows, sql.SELECT_JOBS, params), mode=Mode.READ)
        by_key = {row[0]: self._job_from_row(row) for row in found}
        return [by_key.get(key) for key in keys]

    async def statuses(self, job_keys: Iterable[str]) -> list[Status | None]:
        """Each job's status (None: not held), without reading or decoding its record."""
        keys = list(job_keys)
        if not keys:
            return []
        params = {"queue": self.name, "keys": json.dumps(keys), "now": now_seconds()}
        found = await self._store.run(
            partial(sql.rows, sql.SELECT_STATUSES, params), mode=Mode.READ
        )
        by_key = {key: Status(status) for key, status in found}
        return [by_key.get(key) for key in keys]

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
            page = await self._store.run(partial(sql.rows, sql.PAGE_JOBS, params), mode=Mode.READ)
            if not page:
                return
            for row in page:
                yield self._job_from_row(row)
            after = page[-1][0]

    async def count(self, kind: CountKind) -> int:
        statements = {
            "queued": sql.COUNT_QUEUED,
            "active": sql.COUNT_ACTIVE,
            "incomplete": sql.COUNT_INCOMPLETE,
        }
        if kind not in statements:
            raise ValueError(f"Can't count unknown type {kind}")
        params = {"queue": self.name, "now": now_seconds()}
        statement = partial(sql.scalar, statements[kind], params)
        return int(await self._store.run(statement, mode=Mode.READ))

    async def info(self, jobs: bool = False, offset: int = 0, limit: int = 10) -> QueueInfo:
        """SAQ's QueueInfo; ``jobs`` lists incomplete jobs (active first), honouring the page."""
        params = {"queue": self.name, "now": now_seconds(), "offset": offset, "limit": limit}
        workers, queued, active, incomplete, rows = await self._store.run(
            partial(sql.info, params, with_jobs=jobs), mode=Mode.READ
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
        await self._store.run(partial(sql.changes, sql.WRITE_WORKER, params), quick=True)

    def _job_from_row(self, row: sql.Row) -> Job:
        """(key, blob, status, started, touched): the status column wins over the blob, and the
        claim's timestamps fill in until the Worker writes its own."""
        job = self.deserialize(row[1], row[2])
        assert job is not None
        job.started = job.started or row[3]
        job.touched = job.touched or row[4]
        return job

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

        try:
            async with asyncio.timeout(timeout or None):
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
        finally:
            store.unsubscribe(inbox)

    # -- sweep ----------------------------------------------------------------------------------

    async def sweep(self, lock: int = 60, abort: float = 5.0) -> list[str]:
        """Under a lease (one sweeper per queue): purge expired jobs and stats, sweep stuck jobs as
        SAQ does, and return jobs of dead workers to the queue (liveness recovery)."""
        current = now_seconds()
        params = {
            "queue": self.name,
            "name": f"sweep:{self.name}",
            "owner": self._sweeper_id,
            "expire_at": current + lock,
            "now": current,
            "horizon": current - self.liveness_grace,
        }
        scan = await self._store.run(partial(sql.sweep_scan, params))
        if scan is None:
            return []
        swept = []
        for row in scan.candidates:
            job = self._job_from_row(row)
            try:
                if job.stuck:
                    await self._sweep_stuck(job, abort)
                elif self._worker_is_gone(job, row[5], scan.recent_workers):
                    await self._sweep_orphan(job, row[5])
                else:
                    continue
            except Exception:  # one odd job must not stop the sweep of the others
                logger.exception("Could not sweep %s", job.key)
                continue
            swept.append(job.key)
        try:
            await self._store.run(sql.checkpoint, mode=Mode.BARE)
        except sqlite3.Error:
            logger.info("WAL checkpoint skipped", exc_info=True)
        return swept

    def _worker_is_gone(self, job: Job, worker_id: str | None, recent: set[str]) -> bool:
        """Its worker's stats expired more than the grace ago, and the job has not been touched
        for that long either (a job claimed but not yet marked by its Worker has no worker)."""
        if worker_id is None or worker_id in recent:
            return False
        return now() - max(job.started, job.touched) > self.liveness_grace * 1000

    async def _sweep_orphan(self, job: Job, worker_id: str) -> None:
        """Nobody will finish this job: do what its worker would have (a small window remains
        in which a worker presumed dead finishes the job meanwhile)."""
        logger.info("Sweeping %s: worker %s stopped reporting", job.key, worker_id)
        if job.status == Status.ABORTING:
            await self.finish(job, Status.ABORTED, error=job.error)
        else:
            await self._give_up_on(job)

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
