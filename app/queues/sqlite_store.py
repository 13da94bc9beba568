"""The SQLite connection behind SQLiteQueue: one per database file and event loop.

Every SQLiteQueue on the same file in the same loop (the app runs ``high``, ``default`` and ``low``
on one file) shares a Store, so they never fight each other for SQLite's single write lock and
their wakeups and key notifications reach each other in-process.

A Store runs each request as a plain function on aiosqlite's thread, inside one transaction that
the function cannot leave open: a caller that is cancelled while waiting does not interrupt it
(cancellation only drops requests that have not been sent yet). Requests that arrive while a
transaction is running are committed together in the next one (group commit), which is what
makes enqueue and drain cheap. Commits by other processes are noticed by polling
``PRAGMA data_version``.

A *quick* request (``run(..., quick=True)``: an enqueue, a claim, a finish, an update; a few rows
each) skips the thread when it can: if no batch is on the thread and the batch is small, it runs
right away on the event loop's thread, in ``BEGIN IMMEDIATE`` with no busy wait. A hand-off to
the thread and back cost more than the statements (an awaited enqueue took ~100 µs, ~45 µs
inline; bench/PROFILE.md). If another process holds the write lock, or any request of the batch
fails, nothing is kept and the batch goes to the thread, which waits for the lock and isolates
the failure as before: the loop never waits for a lock, only for a few rows' worth of SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import random
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

import aiosqlite

from app.checkpointer import FALLBACK_AUTOCHECKPOINT_PAGES, Checkpointer
from app.queues.sqlite_schema import migrate

logger = logging.getLogger(__name__)

T = TypeVar("T")
Statement = Callable[[sqlite3.Connection], Any]
Outcome = tuple[bool, Any]

# Bounds how long one group commit holds the write lock that other processes wait for.
MAX_BATCH = 256
# The most quick requests run together on the event loop's thread (see the module docstring).
INLINE_MAX = 8
# Waits between tries when another process holds the lock (see _run_together).
BUSY_PAUSE_MIN = 0.0001
BUSY_PAUSE_MAX = 0.002


class Mode(enum.Enum):
    """How a request touches the database."""

    READ = "read"  # inside BEGIN (a consistent snapshot)
    WRITE = "write"  # inside BEGIN IMMEDIATE: the write lock is taken before the first read
    BARE = "bare"  # outside any transaction (PRAGMAs such as wal_checkpoint need that)


class StoreClosedError(RuntimeError):
    """The store was closed; the queue must be connected again."""


class Waker(Protocol):
    """What a Store needs from a queue to wake its waiting dequeuers."""

    name: str

    def wake(self) -> None: ...

    def wake_when_due(self, scheduled: float) -> None: ...


@dataclass(slots=True)
class _Request:
    statement: Statement
    mode: Mode
    future: asyncio.Future[Any]
    on_commit: Callable[[Any], None] | None
    quick: bool = False


class Store:
    """A shared aiosqlite connection with group commit, change watching and in-process pub/sub."""

    def __init__(self, path: str, *, busy_timeout: float, watch_interval: float) -> None:
        self.path = path
        self.users = 0
        self.foreign_version = 0  # bumped whenever another connection commits
        self._busy_timeout = busy_timeout
        self._watch_interval = watch_interval
        self._connection: aiosqlite.Connection | None = None
        self._pending: list[_Request] = []
        self._in_flight = False
        self._dispatch_soon = False
        self._idle = asyncio.Event()  # nothing pending or in flight
        self._idle.set()
        self._closing = False
        self._watcher: asyncio.Task[None] | None = None
        self._checkpointer: Checkpointer | None = None
        self._wakers: set[Waker] = set()
        self._inboxes: dict[tuple[str, str], set[asyncio.Queue[tuple[str, str]]]] = defaultdict(set)
        self._inbox_keys: dict[asyncio.Queue[tuple[str, str]], tuple[str, list[str]]] = {}

    async def open(self) -> None:
        """Connect, set the PRAGMAs, migrate, and start the change watcher."""
        if self.path != ":memory:":
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        # Used from the event loop's thread too (quick requests), never by two threads at once:
        # the loop runs a batch only while none is on aiosqlite's thread.
        connection = aiosqlite.connect(
            self.path, isolation_level=None, timeout=self._busy_timeout, check_same_thread=False
        )
        # A process that exits without disconnecting (a forced shutdown) must not hang joining
        # this thread; an abandoned transaction is rolled back by SQLite's journal on next open.
        thread: Any = getattr(connection, "_thread", connection)  # aiosqlite < 0.21: the Thread
        thread.daemon = True
        self._connection = await connection
        try:
            await self._in_thread(_prepare, self._busy_timeout)
        except BaseException:
            await self._connection.close()
            raise
        self._watcher = asyncio.create_task(self._watch_forever(), name="sqlite-queue-watch")
        self._checkpointer = Checkpointer(self.path, name="atspro-queue-checkpoint")

    async def close(self) -> None:
        """Finish every accepted request, then close the connection."""
        self._closing = True
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await self._idle.wait()
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)
            self._checkpointer = None
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def run(
        self,
        statement: Callable[[sqlite3.Connection], T],
        *,
        mode: Mode = Mode.WRITE,
        on_commit: Callable[[T], None] | None = None,
        quick: bool = False,
    ) -> T:
        """Run ``statement`` on the connection's thread in a transaction; ``on_commit`` runs after
        the commit in the event loop, even if this caller was cancelled meanwhile. ``quick``: it
        touches a few rows, so it may run on the event loop's thread instead (module docstring).
        """
        if self._closing:
            raise StoreClosedError("the SQLite queue store is closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append(_Request(statement, mode, future, cast(Any, on_commit), quick))
        self._idle.clear()
        if not self._in_flight and not self._dispatch_soon:
            # Send at the end of this loop iteration: whatever else is requested in this
            # iteration (a Worker's tasks often write together) shares the transaction.
            self._dispatch_soon = True
            asyncio.get_running_loop().call_soon(self._dispatch)
        return cast(T, await future)

    # -- wakeups and key notifications -------------------------------------------------------

    def attach(self, waker: Waker) -> None:
        self._wakers.add(waker)

    def detach(self, waker: Waker) -> None:
        self._wakers.discard(waker)

    def wake(self, queue: str, scheduled: float = 0.0) -> None:
        """Tell every dequeuer of ``queue`` in this process that a job may be claimable, now or
        at ``scheduled`` (epoch seconds)."""
        for waker in list(self._wakers):
            if waker.name == queue:
                waker.wake_when_due(scheduled)

    def subscribe(self, queue: str, keys: Iterable[str]) -> asyncio.Queue[tuple[str, str]]:
        inbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        key_list = list(keys)
        self._inbox_keys[inbox] = (queue, key_list)
        for key in key_list:
            self._inboxes[queue, key].add(inbox)
        return inbox

    def unsubscribe(self, inbox: asyncio.Queue[tuple[str, str]]) -> None:
        queue, keys = self._inbox_keys.pop(inbox, ("", []))
        for key in keys:
            listeners = self._inboxes.get((queue, key))
            if listeners is not None:
                listeners.discard(inbox)
                if not listeners:
                    del self._inboxes[queue, key]

    def publish(self, queue: str, key: str, status: str) -> None:
        for inbox in self._inboxes.get((queue, key), ()):
            inbox.put_nowait((key, status))

    # -- internals ------------------------------------------------------------------------------

    async def _in_thread(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(sqlite3_connection, *args)`` on aiosqlite's thread and wait for it."""
        connection = self._connection
        if connection is None:
            raise StoreClosedError("the SQLite queue store is not open")
        execute = cast(Callable[..., Any], connection._execute)
        return cast(T, await execute(lambda: function(connection._conn, *args)))

    def _dispatch(self) -> None:
        """Send what is pending to the connection's thread as one batch (one transaction).

        The thread reports back with ``call_soon_threadsafe(self._complete, …)``, which sends the
        next batch at once: requests never wait for a task to be scheduled in between.
        """
        self._dispatch_soon = False
        if self._in_flight:
            return
        while self._pending:
            batch = [r for r in self._pending[:MAX_BATCH] if not r.future.cancelled()]
            del self._pending[:MAX_BATCH]
            if batch:
                break
        else:
            self._idle.set()
            return
        connection = self._connection
        if connection is None:  # closed under our feet: fail rather than leave callers hanging
            for request in [*batch, *self._pending]:
                if not request.future.done():
                    request.future.set_exception(StoreClosedError("the store is closed"))
            self._pending.clear()
            self._idle.set()
            return
        work = [(r.statement, r.mode) for r in batch]
        if len(batch) <= INLINE_MAX and all(r.quick for r in batch):
            try:
                outcomes = _attempt_inline(connection._conn, work)
            except _NotInline:
                pass  # the lock is taken or a request failed: the thread's path handles it
            else:
                self._complete(batch, outcomes)
                return
        self._in_flight = True
        loop = asyncio.get_running_loop()
        busy_timeout = self._busy_timeout

        def in_thread() -> None:
            try:
                outcomes = _run_batch(connection._conn, work, busy_timeout)
            except BaseException as exc:  # the connection itself failed
                outcomes = [(False, exc)] * len(work)
            loop.call_soon_threadsafe(self._complete, batch, outcomes)

        # aiosqlite has no public "run this function on your thread"; ``_tx``, ``_execute`` and
        # ``_conn`` are its long-standing internals, and the only way to keep a whole transaction
        # in one uninterruptible unit. The contract suite pins the behaviour. No future: ours
        # reports back above, and aiosqlite's would wake the loop a second time per batch.
        connection._tx.put_nowait((None, in_thread))

    def _complete(self, batch: list[_Request], outcomes: list[Outcome]) -> None:
        self._in_flight = False
        if self._pending:
            self._dispatch()  # keep the thread busy while we hand out results
        else:
            self._idle.set()
        for request, (ok, value) in zip(batch, outcomes, strict=True):
            if ok and request.on_commit is not None:
                try:
                    request.on_commit(value)
                except Exception:
                    logger.exception("sqlite_queue.on_commit_failed")
            if request.future.done():
                continue
            if ok:
                request.future.set_result(value)
            else:
                request.future.set_exception(value)

    async def _watch_forever(self) -> None:
        """Poll ``PRAGMA data_version`` so commits by other processes wake our dequeuers."""
        last: int | None = None
        while True:
            try:
                version = await self.run(_data_version, mode=Mode.READ)
            except StoreClosedError:
                return
            except sqlite3.Error:
                logger.warning("sqlite_queue.watch_failed", exc_info=True)
                await asyncio.sleep(self._watch_interval)
                continue
            if last is not None and version != last:
                self.foreign_version += 1
                for waker in list(self._wakers):
                    waker.wake()
            last = version
            await asyncio.sleep(self._watch_interval)


def _prepare(conn: sqlite3.Connection, busy_timeout: float) -> None:
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    conn.execute("PRAGMA journal_mode = WAL")
    # WAL + NORMAL: a power loss may drop the last commits but never corrupts the file.
    conn.execute("PRAGMA synchronous = NORMAL")
    # After a checkpoint resets the WAL, shrink it back to this size.
    conn.execute("PRAGMA journal_size_limit = 67108864")
    # The Store's Checkpointer moves the WAL into the file on a thread of its own; SQLite's own
    # checkpoint, in the commit that crosses this mark, stays only as a safety net. At its
    # default (1,000 pages) one commit every few hundred jobs stopped to copy and sync pages:
    # a 7 ms wait for whoever was enqueued or claimed in it.
    conn.execute(f"PRAGMA wal_autocheckpoint = {FALLBACK_AUTOCHECKPOINT_PAGES}")
    migrate(conn)
    # From here on _run_together waits for locks itself, in finer steps than SQLite would.
    conn.execute("PRAGMA busy_timeout = 0")


def _data_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


def _run_batch(
    conn: sqlite3.Connection, work: list[tuple[Statement, Mode]], busy_timeout: float
) -> list[Outcome]:
    """Run transactional requests in one transaction, then bare ones; never leave one open."""
    outcomes: list[Outcome] = [(False, None)] * len(work)
    grouped = [i for i, (_, mode) in enumerate(work) if mode is not Mode.BARE]
    if grouped:
        write = any(work[i][1] is Mode.WRITE for i in grouped)
        statements = [work[i][0] for i in grouped]
        results = _run_together(conn, statements, write=write, busy_timeout=busy_timeout)
        for i, outcome in zip(grouped, results, strict=True):
            outcomes[i] = outcome
    for i, (statement, mode) in enumerate(work):
        if mode is Mode.BARE:
            try:
                outcomes[i] = (True, statement(conn))
            except Exception as exc:
                outcomes[i] = (False, exc)
    return outcomes


class _BusyError(Exception):
    """Another connection holds the lock we need."""


def _run_together(
    conn: sqlite3.Connection, statements: list[Statement], *, write: bool, busy_timeout: float
) -> list[Outcome]:
    """One transaction for all, retried while another process holds the lock.

    SQLite's own busy handler sleeps 1, 2, 5, 10… ms between tries, far longer than our
    transactions last, so processes sharing the file would mostly wait. We retry after 0.1 ms,
    doubling to 2 ms, until ``busy_timeout``.
    """
    deadline = time.monotonic() + busy_timeout
    pause = BUSY_PAUSE_MIN
    while True:
        try:
            return _attempt(conn, statements, write=write, busy_timeout=busy_timeout)
        except _BusyError as busy:
            if time.monotonic() + pause > deadline:
                return [(False, busy.__cause__)] * len(statements)
            time.sleep(pause * random.uniform(0.5, 1.5))  # noqa: S311 (jitter, not crypto)
            pause = min(pause * 2, BUSY_PAUSE_MAX)


def _attempt(
    conn: sqlite3.Connection, statements: list[Statement], *, write: bool, busy_timeout: float
) -> list[Outcome]:
    """If a request fails (other than by a busy lock), roll back and give each request its own
    transaction, so one bad request cannot fail the others."""
    try:
        return _transaction(conn, statements, write=write)
    except BaseException as exc:
        if _is_busy(exc):
            raise _BusyError from exc
        if not isinstance(exc, Exception):
            raise
        if len(statements) == 1:
            return [(False, exc)]
        return [
            _run_together(conn, [s], write=write, busy_timeout=busy_timeout)[0] for s in statements
        ]


def _transaction(
    conn: sqlite3.Connection, statements: list[Statement], *, write: bool
) -> list[Outcome]:
    """All ``statements`` in one transaction, committed; rolled back if any raises (re-raised)."""
    try:
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        results: list[Outcome] = [(True, statement(conn)) for statement in statements]
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise
    return results


class _NotInline(Exception):
    """The batch could not be run at once on the calling thread; it is sent to the thread."""


def _attempt_inline(conn: sqlite3.Connection, work: list[tuple[Statement, Mode]]) -> list[Outcome]:
    """One try of a small batch on the calling thread, refused with ``_NotInline`` (and rolled
    back) if another process holds the lock (the busy timeout is 0: no wait) or any request
    fails (the thread's path runs them again, each on its own)."""
    write = any(mode is Mode.WRITE for _, mode in work)
    try:
        return _transaction(conn, [statement for statement, _ in work], write=write)
    except Exception as exc:
        raise _NotInline from exc


def _is_busy(exc: BaseException) -> bool:
    return (
        isinstance(exc, sqlite3.OperationalError)
        and getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY
    )


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


# -- one Store per (file, event loop) --------------------------------------------------------------

_stores: dict[tuple[str, asyncio.AbstractEventLoop], Store] = {}
_opening: dict[Store, asyncio.Task[None]] = {}


def _normalize(path: str | os.PathLike[str]) -> str:
    text = os.fspath(path)
    return text if text == ":memory:" else os.path.abspath(text)


async def acquire_store(
    path: str | os.PathLike[str], *, busy_timeout: float, watch_interval: float
) -> Store:
    """Return this loop's Store for ``path``, opening it on first use (first caller's options)."""
    loop = asyncio.get_running_loop()
    key = (_normalize(path), loop)
    store = _stores.get(key)
    if store is None:
        store = Store(key[0], busy_timeout=busy_timeout, watch_interval=watch_interval)
        _stores[key] = store
        opening = loop.create_task(store.open())
        _opening[store] = opening

        def forget_failed(task: asyncio.Task[None], store: Store = store) -> None:
            _opening.pop(store, None)
            if task.cancelled() or task.exception() is not None:
                _stores.pop(key, None)

        opening.add_done_callback(forget_failed)
    store.users += 1
    try:
        if (opening_task := _opening.get(store)) is not None:
            await asyncio.shield(opening_task)
    except BaseException:
        await release_store(store)
        raise
    return store


async def release_store(store: Store) -> None:
    """Drop one user; the last one closes the connection."""
    store.users -= 1
    if store.users > 0:
        return
    for key, candidate in list(_stores.items()):
        if candidate is store:
            del _stores[key]
    opening = _opening.get(store)
    if opening is not None:
        with contextlib.suppress(Exception):
            await asyncio.shield(opening)
        if opening.cancelled() or opening.exception() is not None:
            return
    await store.close()
