"""Tables, statements, and the functions that run them on the connection's thread.

The queue owns its tables (not Alembic): they are versioned here and migrated by the first
connection that opens the file. Several queue names share one file; every row carries its queue.
Each function below is one unit of work for ``Store.run``: it runs inside a transaction on the
connection's thread and returns plain values.

Time units follow SAQ: ``scheduled`` and ``expire_at`` are epoch seconds (REAL, because retry
delays are fractional), ``started`` and ``touched`` are epoch milliseconds. ``status`` is
authoritative and is applied over the serialized job on every read, as PostgresQueue does.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, Final

Row = tuple[Any, ...]

SCHEMA_VERSION: Final = 1

MIGRATIONS: Final[tuple[tuple[int, tuple[str, ...]], ...]] = (
    (
        1,
        (
            """
            CREATE TABLE saq_jobs (
                queue     TEXT NOT NULL,
                key       TEXT NOT NULL,
                status    TEXT NOT NULL,
                priority  INTEGER NOT NULL DEFAULT 0,
                scheduled REAL NOT NULL,
                started   INTEGER NOT NULL DEFAULT 0,
                touched   INTEGER NOT NULL DEFAULT 0,
                worker_id TEXT,
                expire_at REAL,
                job       BLOB NOT NULL,
                PRIMARY KEY (queue, key)
            )
            """,
            # The claim walks this index in (priority, scheduled, rowid) order and stops early.
            "CREATE INDEX saq_jobs_claim ON saq_jobs (queue, status, priority, scheduled)",
            # Only finished rows have an expiry, so the purge index stays small.
            """
            CREATE INDEX saq_jobs_expiry ON saq_jobs (queue, expire_at)
            WHERE expire_at IS NOT NULL
            """,
            """
            CREATE TABLE saq_stats (
                worker_id TEXT PRIMARY KEY,
                queue_key TEXT,
                stats     TEXT,
                metadata  TEXT,
                expire_at REAL NOT NULL
            )
            """,
            """
            CREATE TABLE saq_leases (
                name      TEXT PRIMARY KEY,
                owner     TEXT NOT NULL,
                expire_at REAL NOT NULL
            )
            """,
        ),
    ),
)

CLAIM: Final = """
UPDATE saq_jobs SET status = 'active', started = :now_ms, touched = :now_ms,
    worker_id = :claimant
WHERE rowid IN (
    SELECT rowid FROM saq_jobs
    WHERE queue = :queue AND status = 'queued'
      AND priority BETWEEN :low AND :high AND scheduled <= :now
    ORDER BY priority, scheduled, rowid
    LIMIT :limit
)
RETURNING priority, scheduled, rowid, key, job
"""

NEXT_DUE: Final = """
SELECT min(scheduled) FROM saq_jobs
WHERE queue = :queue AND status = 'queued'
  AND priority BETWEEN :low AND :high AND scheduled > :now
"""

# Hands a claimed job back when its dequeuer went away before receiving it.
UNCLAIM: Final = """
UPDATE saq_jobs SET status = 'queued', started = 0, touched = 0
WHERE queue = :queue AND key = :key AND status = 'active' AND started = :started
  AND worker_id IS :claimant
"""

ENQUEUE: Final = """
INSERT INTO saq_jobs (queue, key, status, priority, scheduled, job)
VALUES (:queue, :key, 'queued', :priority, :scheduled, :job)
ON CONFLICT (queue, key) DO UPDATE SET
    status = 'queued', priority = excluded.priority, scheduled = excluded.scheduled,
    started = 0, touched = 0, worker_id = NULL, expire_at = NULL, job = excluded.job
WHERE saq_jobs.status IN ('complete', 'failed', 'aborted')
"""

# ``scheduled`` only moves when the job names a time: 0 means "now" and would jump the queue.
UPDATE_KEEP_STATUS: Final = """
UPDATE saq_jobs SET
    job = :job, started = :started, touched = :touched, worker_id = :worker_id,
    scheduled = CASE WHEN :scheduled > 0 THEN :scheduled ELSE scheduled END
WHERE queue = :queue AND key = :key
RETURNING status
"""
# The Worker marks a job active right after claiming it; that must not undo an abort that came
# in between (the abort poll then cancels the task).
UPDATE_WITH_STATUS: Final = """
UPDATE saq_jobs SET
    status = CASE WHEN :status = 'active' AND status = 'aborting' THEN status ELSE :status END,
    job = :job, started = :started, touched = :touched, worker_id = :worker_id,
    scheduled = CASE WHEN :scheduled > 0 THEN :scheduled ELSE scheduled END
WHERE queue = :queue AND key = :key
RETURNING status
"""

RETRY: Final = """
UPDATE saq_jobs SET status = 'queued', job = :job, scheduled = :scheduled, started = 0,
    touched = :touched, worker_id = NULL, expire_at = NULL
WHERE queue = :queue AND key = :key
"""

FINISH: Final = """
UPDATE saq_jobs SET status = :status, job = :job, expire_at = :expire_at
WHERE queue = :queue AND key = :key
"""

DELETE: Final = "DELETE FROM saq_jobs WHERE queue = :queue AND key = :key"

STATUS_OF: Final = "SELECT status FROM saq_jobs WHERE queue = :queue AND key = :key"

ABORTING: Final = """
UPDATE saq_jobs SET status = 'aborting', job = :job, touched = :touched
WHERE queue = :queue AND key = :key
"""

# Job reads return (key, job, status, started, touched). Rows past their expiry read as missing,
# as an expired Redis key would.
SELECT_JOBS: Final = """
SELECT key, job, status, started, touched FROM saq_jobs
WHERE queue = :queue AND key IN (SELECT value FROM json_each(:keys))
  AND (expire_at IS NULL OR expire_at > :now)
"""

# The status alone (the reconciler asks for hundreds at a time and needs no record).
SELECT_STATUSES: Final = """
SELECT key, status FROM saq_jobs
WHERE queue = :queue AND key IN (SELECT value FROM json_each(:keys))
  AND (expire_at IS NULL OR expire_at > :now)
"""

PAGE_JOBS: Final = """
SELECT key, job, status, started, touched FROM saq_jobs
WHERE queue = :queue AND key > :after AND status IN (SELECT value FROM json_each(:statuses))
  AND (expire_at IS NULL OR expire_at > :now)
ORDER BY key
LIMIT :limit
"""

COUNT_QUEUED: Final = """
SELECT count(*) FROM saq_jobs WHERE queue = :queue AND status = 'queued' AND scheduled <= :now
"""
COUNT_ACTIVE: Final = "SELECT count(*) FROM saq_jobs WHERE queue = :queue AND status = 'active'"
COUNT_INCOMPLETE: Final = """
SELECT count(*) FROM saq_jobs WHERE queue = :queue AND status IN ('new', 'queued', 'active')
"""

# Active jobs first (oldest first), then waiting ones in the order they will be claimed.
INCOMPLETE_JOBS: Final = """
SELECT key, job, status, started, touched FROM saq_jobs
WHERE queue = :queue AND status IN ('new', 'queued', 'active', 'aborting')
ORDER BY status NOT IN ('active', 'aborting'), priority, scheduled, rowid
LIMIT :limit OFFSET :offset
"""

LIVE_WORKERS: Final = """
SELECT worker_id, stats, queue_key, metadata FROM saq_stats
WHERE queue_key = :queue AND expire_at > :now
"""

WRITE_WORKER: Final = """
INSERT INTO saq_stats (worker_id, queue_key, stats, metadata, expire_at)
VALUES (:worker_id, :queue_key, :stats, :metadata, :expire_at)
ON CONFLICT (worker_id) DO UPDATE SET
    queue_key = excluded.queue_key, stats = excluded.stats,
    metadata = excluded.metadata, expire_at = excluded.expire_at
"""

# Succeeds when the lease is free, expired, or already ours: one sweeper per queue.
TAKE_LEASE: Final = """
INSERT INTO saq_leases (name, owner, expire_at) VALUES (:name, :owner, :expire_at)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expire_at = excluded.expire_at
WHERE saq_leases.owner = excluded.owner OR saq_leases.expire_at <= :now
"""

PURGE_JOBS: Final = """
DELETE FROM saq_jobs
WHERE queue = :queue AND expire_at <= :now AND status IN ('complete', 'failed', 'aborted')
"""
# Stats outlive their expiry by the liveness grace so a recently dead worker is still known.
PURGE_STATS: Final = "DELETE FROM saq_stats WHERE expire_at <= :horizon"

SWEEP_CANDIDATES: Final = """
SELECT key, job, status, started, touched, worker_id FROM saq_jobs
WHERE queue = :queue AND status IN ('active', 'aborting')
"""

RECENT_WORKERS: Final = "SELECT worker_id FROM saq_stats WHERE expire_at > :horizon"


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the file to SCHEMA_VERSION in one write transaction (the first opener wins)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS saq_schema (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM saq_schema").fetchone()
        current = int(row[0]) if row else 0
        if current > SCHEMA_VERSION:
            raise RuntimeError(
                f"queue database schema is version {current}, newer than this code's "
                f"{SCHEMA_VERSION}; upgrade the application"
            )
        for version, statements in MIGRATIONS:
            if version > current:
                for statement in statements:
                    conn.execute(statement)
        if row is None:
            conn.execute("INSERT INTO saq_schema (version) VALUES (?)", (SCHEMA_VERSION,))
        else:
            conn.execute("UPDATE saq_schema SET version = ?", (SCHEMA_VERSION,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def changes(statement: str, params: dict[str, Any], conn: sqlite3.Connection) -> int:
    return conn.execute(statement, params).rowcount


def changes_many(statements: dict[str, list[dict[str, Any]]], conn: sqlite3.Connection) -> int:
    """Each statement once per parameter set, in one ``executemany`` per statement (one call
    into the driver, not one per row); the rows they changed, in all."""
    return sum(
        conn.executemany(statement, params).rowcount for statement, params in statements.items()
    )


def scalar(statement: str, params: dict[str, Any], conn: sqlite3.Connection) -> Any:
    row = conn.execute(statement, params).fetchone()
    return row[0] if row else None


def rows(statement: str, params: dict[str, Any], conn: sqlite3.Connection) -> list[Row]:
    return conn.execute(statement, params).fetchall()


def claim(params: dict[str, Any], conn: sqlite3.Connection) -> tuple[list[Row], float | None]:
    """Claim up to ``limit`` due jobs; when fewer came back, also say when the next one is due."""
    claimed = conn.execute(CLAIM, params).fetchall()
    next_due = None
    if len(claimed) < params["limit"]:
        next_due = conn.execute(NEXT_DUE, params).fetchone()[0]
    return claimed, next_due


def abort(params: dict[str, Any], conn: sqlite3.Connection) -> str | None:
    """Read the status and act on it in one write transaction; return the new status."""
    row = conn.execute(STATUS_OF, params).fetchone()
    status = row[0] if row else None
    if status is None:
        return "aborted"
    if status in ("new", "queued"):
        if params["delete"]:
            conn.execute(DELETE, params)
        else:
            conn.execute(FINISH, {**params, "status": "aborted", "job": params["aborted"]})
        return "aborted"
    if status in ("active", "aborting"):
        conn.execute(ABORTING, {**params, "job": params["aborting"]})
        return "aborting"
    return None  # already finished: nothing to abort


def info(
    params: dict[str, Any], conn: sqlite3.Connection, *, with_jobs: bool
) -> tuple[list[Row], int, int, int, list[Row]]:
    workers = conn.execute(LIVE_WORKERS, params).fetchall()
    queued = conn.execute(COUNT_QUEUED, params).fetchone()[0]
    active = conn.execute(COUNT_ACTIVE, params).fetchone()[0]
    incomplete = conn.execute(COUNT_INCOMPLETE, params).fetchone()[0]
    jobs = conn.execute(INCOMPLETE_JOBS, params).fetchall() if with_jobs else []
    return workers, queued, active, incomplete, jobs


@dataclass(frozen=True, slots=True)
class SweepScan:
    candidates: list[Row]  # (key, job, status, started, touched, worker_id) of active jobs
    recent_workers: set[str]  # workers whose stats expired less than the grace ago, or live


def sweep_scan(params: dict[str, Any], conn: sqlite3.Connection) -> SweepScan | None:
    """Take or renew the sweep lease; if held, purge expired rows and list active jobs."""
    if conn.execute(TAKE_LEASE, params).rowcount == 0:
        return None
    conn.execute(PURGE_JOBS, params)
    conn.execute(PURGE_STATS, params)
    candidates = conn.execute(SWEEP_CANDIDATES, params).fetchall()
    recent = {row[0] for row in conn.execute(RECENT_WORKERS, params)}
    return SweepScan(candidates, recent)


def checkpoint(conn: sqlite3.Connection) -> None:
    """Fold the WAL back into the file (outside a transaction); wait at most 100 ms for readers
    so the calls queued behind it are not held up."""
    (previous,) = conn.execute("PRAGMA busy_timeout").fetchone()
    conn.execute("PRAGMA busy_timeout = 100")
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(previous)}")
