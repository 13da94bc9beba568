"""The app database: portable column types and one way to run SQL on SQLite and PostgreSQL.

Queries are plain synchronous functions of a SQLAlchemy ``Connection`` (Core, no ORM session), so
the same function runs on either backend. A :class:`Database` decides how:

* :class:`SQLiteDatabase` gives writes to one writer thread that commits them in groups: every
  write that arrives while a transaction runs joins the next one, so ten workers finishing jobs
  cost one commit, not ten, and nobody sleeps in SQLite's busy handler waiting for the lock.
  Reads run on a small pool of threads with a deferred ``BEGIN`` (WAL gives them a snapshot and
  they never wait for the writer).
* :class:`AsyncDatabase` runs the functions on an asyncpg engine through ``run_sync``.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import operator
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from sqlalchemy import DateTime, Insert, Select, create_engine, event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.types import TypeDecorator

from app.checkpointer import FALLBACK_AUTOCHECKPOINT_PAGES, Checkpointer
from app.json_codec import dump_json

log = logging.getLogger("atspro.db")

T = TypeVar("T")
Query = Callable[[Connection], T]
Statement = UpdateBase | Select[Any]  # what ``execute`` runs on the prepared path

SQLITE_BUSY_TIMEOUT_MS = 15_000
MAX_GROUP = 200  # writes per group commit: bounds how long one transaction holds the lock
READ_THREADS = 8


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Database(Protocol):
    """Runs query functions: writes in a transaction, reads on a snapshot."""

    dialect: str
    # The last write the database refused for want of space or write access (see
    # ``refused_writes``): (``time.monotonic()``, what it said). For /readyz.
    last_refusal: tuple[float, str] | None

    async def write(self, query: Query[T]) -> T: ...

    async def read(self, query: Query[T]) -> T: ...

    async def close(self) -> None: ...


# SQLite result codes (the low byte of ``sqlite3.Error.sqlite_errorcode``) and PostgreSQL
# SQLSTATEs that mean "this database takes no writes now": full disk or file, read-only, I/O.
_SQLITE_REFUSALS = {8, 10, 13}  # SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL
_POSTGRES_REFUSALS = {"53100", "25006", "58030"}  # disk_full, read_only_sql_transaction, io_error


def refused_writes(error: BaseException) -> bool:
    """The database refused a write for want of space or write access (not a busy lock, a
    constraint or a bug): a full disk, a read-only file or replica, an I/O error."""
    original = error.orig if isinstance(error, DBAPIError) else error
    code = getattr(original, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_REFUSALS
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return state in _POSTGRES_REFUSALS


def make_database(url: str) -> Database:
    """``sqlite+aiosqlite:///…`` (or ``sqlite:///…``) → SQLiteDatabase; else AsyncDatabase."""
    if url.startswith("sqlite"):
        return SQLiteDatabase(url)
    return AsyncDatabase(url)


class AsyncDatabase:
    """PostgreSQL through asyncpg; pre-ping so a restarted server costs a retry, not an error."""

    def __init__(self, url: str) -> None:
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=10,
            json_serializer=dump_json,
        )
        self.dialect = self.engine.dialect.name
        self.last_refusal: tuple[float, str] | None = None

    async def write(self, query: Query[T]) -> T:
        try:
            async with self.engine.begin() as connection:
                return await connection.run_sync(query)
        except DBAPIError as error:
            if refused_writes(error):
                self.last_refusal = (time.monotonic(), str(error.orig)[:200])
            raise

    async def read(self, query: Query[T]) -> T:
        async with self.engine.connect() as connection:
            return await connection.run_sync(query)

    async def close(self) -> None:
        await self.engine.dispose()


class _Write:
    __slots__ = ("future", "loop", "query")

    def __init__(self, query: Query[Any], loop: asyncio.AbstractEventLoop) -> None:
        self.query = query
        self.loop = loop
        self.future: asyncio.Future[Any] = loop.create_future()

    def deliver(self, result: Any = None, error: BaseException | None = None) -> None:
        """In the event loop: hand the caller its outcome."""
        if self.future.done():
            return  # the caller gave up waiting; the write happened anyway
        if error is not None:
            self.future.set_exception(error)
        else:
            self.future.set_result(result)


def _settle(outcomes: list[tuple[_Write, Any, BaseException | None]]) -> None:
    """From the writer thread: one wake-up of each caller's loop for the whole group (each
    ``call_soon_threadsafe`` writes to the loop's self-pipe, a cost per call, not per write)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Write, Any, BaseException | None]]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0].loop, []).append(outcome)
    for loop, delivered in by_loop.items():
        loop.call_soon_threadsafe(_deliver_all, delivered)


def _deliver_all(outcomes: list[tuple[_Write, Any, BaseException | None]]) -> None:
    for item, result, error in outcomes:
        item.deliver(result, error)


_STOP = object()


class SQLiteDatabase:
    """SQLite with one group-committing writer thread and a pool of reader threads."""

    dialect = "sqlite"

    def __init__(self, url: str) -> None:
        sync_url = url.replace("sqlite+aiosqlite://", "sqlite://", 1)
        self.engine: Engine = create_engine(
            sync_url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            pool_size=READ_THREADS + 1,
            max_overflow=0,
            json_serializer=dump_json,
        )
        _tune_sqlite(self.engine)
        self.last_refusal: tuple[float, str] | None = None
        self._readers = CapacityLimiter(READ_THREADS)
        self._inbox: queue.SimpleQueue[_Write | object] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_forever, name="atspro-db-writer")
        self._writer.daemon = True  # a forced exit must not hang joining it
        self._writer.start()
        self._checkpointer = Checkpointer(self.engine.url.database)

    async def write(self, query: Query[T]) -> T:
        item = _Write(query, asyncio.get_running_loop())
        self._inbox.put(item)
        return await item.future  # type: ignore[no-any-return]

    async def read(self, query: Query[T]) -> T:
        return await anyio.to_thread.run_sync(self._read, query, limiter=self._readers)

    async def close(self) -> None:
        self._inbox.put(_STOP)
        await anyio.to_thread.run_sync(self._writer.join)
        await anyio.to_thread.run_sync(self._checkpointer.stop)
        self.engine.dispose()

    def _read(self, query: Query[T]) -> T:
        with self.engine.connect() as pooled:
            connection = pooled.execution_options(readonly=True)
            with connection.begin():
                return query(connection)

    def _write_forever(self) -> None:
        connection = self.engine.connect()
        # The Checkpointer moves the WAL into the database; SQLite's own checkpoint, in the
        # commit that crosses its threshold, stays only as a safety net.
        driver: Any = connection.connection.driver_connection
        driver.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_AUTOCHECKPOINT_PAGES}")
        try:
            while True:
                first = self._inbox.get()
                if first is _STOP:
                    return
                group: list[_Write] = [first]  # type: ignore[list-item]
                stop = False
                while len(group) < MAX_GROUP:
                    try:
                        item = self._inbox.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stop = True
                        break
                    group.append(item)  # type: ignore[arg-type]
                self._commit_group(connection, group)
                if stop:
                    return
        finally:
            connection.close()

    def _commit_group(self, connection: Connection, group: list[_Write]) -> None:
        """One transaction for the whole group. If one write raises, the group is rolled back
        and each write runs again in a transaction of its own, so only that one fails.

        (A SAVEPOINT per write would do the same in one pass, but every statement costs this
        thread a round trip for the GIL; the optimistic pass keeps writes at two statements.)
        """
        results: list[Any] = []
        try:
            with connection.begin():
                for item in group:
                    results.append(item.query(connection))
        except Exception as failure:
            if len(group) == 1:
                if refused_writes(failure):
                    self.last_refusal = (time.monotonic(), str(failure)[:200])
                _settle([(group[0], None, failure)])
                return
            for item in group:
                self._commit_group(connection, [item])
            return
        _settle([(item, result, None) for item, result in zip(group, results, strict=True)])


class Prepared:
    """A Core statement compiled once for SQLite and run straight on the driver.

    ``Connection.execute`` spends most of a small write's time on per-call machinery: the
    statement's cache key, parameter construction, event dispatch, the result proxy and its rows
    (bench/PROFILE.md: two thirds of the writer thread's time per job). The few statements every
    job runs (its status changes and event rows) come here instead: SQLAlchemy
    still renders the SQL and its column types still convert every value in and out (the same
    ``bind_processor`` / ``result_processor`` it uses itself), only the per-call work is done
    once. Rows come back as named tuples (attribute access, like a ``Row``).
    """

    def __init__(self, statement: Statement, dialect: Dialect, keys: Sequence[str]) -> None:
        column_keys = list(keys) if isinstance(statement, Insert) else None
        compiled: Any = statement.compile(dialect=dialect, column_keys=column_keys)
        if compiled.insert_prefetch or compiled.update_prefetch:
            # A column default computed in Python would be skipped here: callers pass them all.
            raise ValueError(f"pass a value for every column with a default: {statement}")
        missing = [
            name
            for name in compiled.positiontup
            if compiled.binds[name].required and name not in keys
        ]
        if missing:  # the cache key holds the parameter names, so each call has these too
            raise KeyError(f"no value for bound parameters {missing}")
        self.statement = statement  # keeps id(statement), the cache key, from being reused
        self.sql: str = compiled.string
        self.binds: list[tuple[str, Any, Callable[[Any], Any] | None]] = [
            (name, bind.value, _writer(bind.type, dialect))
            for name in compiled.positiontup
            for bind in (compiled.binds[name],)
        ]
        returning = list(statement.exported_columns)  # RETURNING or SELECT columns, if any
        self.returns = bool(returning)
        # (position, converter) of each column whose stored value is converted when read.
        self.readers = [
            (index, read)
            for index, column in enumerate(returning)
            if (read := _reader(column.type, dialect)) is not None
        ]
        fields = [str(column.key) for column in returning]
        self.record: Any = collections.namedtuple("Record", fields)  # type: ignore[misc]
        # Every call passes the same parameter names (they are part of the cache key), so the
        # values are picked by one C-level itemgetter into a template that already holds the
        # converted fixed values, and only the converters left run in Python: a per-bind loop
        # was a third of the writer's Python time per job.
        given = [index for index, (name, _, _) in enumerate(self.binds) if name in keys]
        self._template = [
            None if index in given else (default if process is None else process(default))
            for index, (_, default, process) in enumerate(self.binds)
        ]
        self._positions = given
        names = [self.binds[index][0] for index in given]
        self._pick: Callable[[Mapping[str, Any]], Any] = (
            operator.itemgetter(*names) if names else lambda _params: ()
        )
        self._converters = [
            (index, process) for index in given if (process := self.binds[index][2]) is not None
        ]

    def _values(self, params: Mapping[str, Any]) -> list[Any]:
        picked = self._pick(params)
        if len(self._positions) == 1:
            picked = (picked,)  # itemgetter of one name gives the value itself
        if len(self._positions) == len(self._template):
            values = list(picked)
        else:
            values = self._template.copy()
            for index, value in zip(self._positions, picked, strict=True):
                values[index] = value
        for index, process in self._converters:
            values[index] = process(values[index])
        return values

    def run_many(self, connection: Connection, params: Sequence[Mapping[str, Any]]) -> int:
        """The statement once per parameter set, in one driver call (no RETURNING); the number
        of rows it changed."""
        rows = [self._values(each) for each in params]
        return int(self._call(connection, "executemany", rows).rowcount)

    def _call(self, connection: Connection, method: str, values: Any) -> Any:
        return _on_driver(connection, method, self.sql, values)

    def run(self, connection: Connection, params: Mapping[str, Any]) -> list[Any]:
        rows = self._call(connection, "execute", self._values(params)).fetchall()
        if not self.returns:
            return []
        records = []
        for row in rows:
            values = list(row)
            for index, read in self.readers:
                value = values[index]
                if value is not None:  # NULL reads as None whatever the type
                    values[index] = read(value)
            records.append(self.record._make(values))
        return records


def _on_driver(connection: Connection, method: str, sql: str, values: Any) -> Any:
    """``sql`` run by the DBAPI connection's ``method`` itself, its errors raised as SQLAlchemy
    raises them (OperationalError, IntegrityError…), so callers handle a full disk or a lock the
    same way on this path as on every other."""
    driver: Any = connection.connection.driver_connection
    dbapi = connection.dialect.loaded_dbapi
    try:
        return getattr(driver, method)(sql, values)
    except dbapi.Error as error:
        wrapped = DBAPIError.instance(sql, values, error, dbapi.Error, dialect=connection.dialect)
        raise wrapped from error


def driver_sql(connection: Connection, sql: str) -> None:
    """A statement with no parameters and no rows (``BEGIN``, ``SAVEPOINT``…) on SQLite, straight
    to the driver: ``exec_driver_sql`` builds a whole execution context for it, and the writer
    ran three per group (bench/PROFILE.md: 5 % of its time)."""
    _on_driver(connection, "execute", sql, ())


# A group of job writes binds the same few instants many times (its ``now`` and lease in every
# row and event) and reads back as many: a small cache turns most conversions into a lookup.
# Equal instants give equal text whatever their time zone, so sharing one entry is exact.
@functools.lru_cache(maxsize=1024)
def _utc_to_text(value: datetime | None) -> str | None:
    """``UTCDateTime`` then SQLite's ``DATETIME`` bind processor, in one C call: the same text
    (``YYYY-MM-DD HH:MM:SS.ffffff``), a third of the time (tests/integration/test_prepared.py)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


@functools.lru_cache(maxsize=1024)
def _utc_from_text(value: str) -> datetime:
    """SQLite's ``DATETIME`` result processor then ``UTCDateTime``, in one C call."""
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _writer(type_: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    if dialect.name == "sqlite" and isinstance(type_, UTCDateTime):
        return _utc_to_text
    return type_.dialect_impl(dialect).bind_processor(dialect)  # type: ignore[no-any-return]


def _reader(type_: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    if dialect.name == "sqlite" and isinstance(type_, UTCDateTime):
        return _utc_from_text
    return type_.dialect_impl(dialect).result_processor(dialect, None)  # type: ignore[no-any-return]


_prepared: dict[tuple[int, frozenset[str]], Prepared] = {}


def execute(connection: Connection, statement: Statement, params: Mapping[str, Any]) -> list[Any]:
    """Run a hot-path statement; its rows (selected or RETURNING; ``[]`` for none).

    On SQLite through :class:`Prepared`; on PostgreSQL through ``Connection.execute`` (its async
    driver needs SQLAlchemy's own execution path, and a network round trip dwarfs the saving).
    ``statement`` must be built once and kept (a module constant or a cached shape).
    """
    if connection.dialect.name != "sqlite":
        result = connection.execute(statement, dict(params))
        return list(result.all()) if result.returns_rows else []
    key = (id(statement), frozenset(params))
    prepared = _prepared.get(key)
    if prepared is None:
        prepared = _prepared[key] = Prepared(statement, connection.dialect, list(params))
    return prepared.run(connection, params)


def execute_many(
    connection: Connection, statement: UpdateBase, params: Sequence[Mapping[str, Any]]
) -> int:
    """Run a hot-path DML statement (no RETURNING) once per parameter set, each set with the
    same keys: one driver call on SQLite (``executemany``), Core's executemany on PostgreSQL.
    The number of rows changed."""
    if not params:
        return 0
    if connection.dialect.name != "sqlite":
        return int(connection.execute(statement, [dict(each) for each in params]).rowcount)
    key = (id(statement), frozenset(params[0]))
    prepared = _prepared.get(key)
    if prepared is None:
        prepared = _prepared[key] = Prepared(statement, connection.dialect, list(params[0]))
    return prepared.run_many(connection, params)


def _tune_sqlite(engine: Engine) -> None:
    """WAL (readers never block the writer), a busy timeout for other processes' writes, and
    ``BEGIN IMMEDIATE`` for writes: a deferred transaction that reads then writes fails at once
    with SQLITE_BUSY whatever the busy timeout says."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        readonly = connection.get_execution_options().get("readonly", False)
        driver_sql(connection, "BEGIN" if readonly else "BEGIN IMMEDIATE")
