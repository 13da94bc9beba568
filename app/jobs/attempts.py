"""Per-attempt history (``job_attempts``): SQL run inside the status change's own transaction.

The table holds what a job's row no longer says: each attempt that did not complete (failed,
retry scheduled, requeued at shutdown, stalled, cancelled), written by the status change that
ended it. The job's current attempt, while it runs and once it has completed, is its row: the
row already holds when it started, where, and when it completed (a completed job never runs
again), so ``for_jobs`` reads that attempt from it. The common path, a job that starts and
completes, writes no attempt row at all: an INSERT at the start and an UPDATE at the end were a
tenth of the drain's time per job (bench/PROFILE.md).

Rows written before that (``running`` and ``completed`` rows of current attempts) read the same:
the job's row describes those attempts, and wins.

Operators read the traceback; nobody should read a secret in it, so messages and tracebacks are
redacted (tokens, keys, passwords, credentials in URLs) before they are stored.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from app.db import execute
from app.jobs.status import JobStatus
from app.models import BackgroundJob, JobAttempt

attempts = cast(Table, JobAttempt.__table__)
jobs = cast(Table, BackgroundJob.__table__)

MAX_TEXT = 20_000  # a runaway traceback is cut here; its end (the raise) is what matters


class Outcome(StrEnum):
    """How an attempt ended (``running`` while it has not)."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    RETRY_SCHEDULED = "retry_scheduled"
    REQUEUED = "requeued"  # shutdown interrupted it: no retry spent
    STALLED = "stalled"  # its worker stopped renewing the lease
    CANCELLED = "cancelled"


_SECRETS = [
    # "Bearer abc", "Authorization: Basic abc"
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [redacted]"),
    # OpenAI-style keys and similar prefixed tokens
    (re.compile(r"\b(sk|pk|rk|ghp|gho|xox[abp])[-_][A-Za-z0-9_-]{8,}"), "[redacted]"),
    # user:password@ in URLs
    (re.compile(r"(?i)([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"), r"\1[redacted]@"),
    # password=…, api_key: "…", token=…, secret=…
    (
        re.compile(
            r"(?i)\b([\w-]*(?:password|passwd|secret|token|api[_-]?key)[\w-]*)"
            r"(\s*[=:]\s*)(['\"]?)[^\s'\",;&]+\3"
        ),
        r"\1\2\3[redacted]\3",
    ),
]


def redact(text: str | None) -> str | None:
    """``text`` without anything that looks like a credential, cut to ``MAX_TEXT``."""
    if text is None:
        return None
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    if len(text) > MAX_TEXT:
        text = "…" + text[-MAX_TEXT:]
    return text


def _close_statement(dialect_insert: Any) -> Any:
    """INSERT the ended attempt; if an older version of the app opened its row, close that row
    instead (never one that already ended: a second close is a no-op)."""
    statement = dialect_insert(attempts)
    return statement.on_conflict_do_update(
        index_elements=[attempts.c.job_id, attempts.c.attempt],
        set_={
            name: statement.excluded[name]
            for name in ("finished_at", "outcome", "error_kind", "error_message", "traceback")
        },
        where=attempts.c.finished_at.is_(None),
    )


_CLOSE = {"sqlite": _close_statement(sqlite_insert), "postgresql": _close_statement(pg_insert)}


def close_attempt(
    connection: Connection,
    job: Any,
    outcome: Outcome,
    now: datetime,
    *,
    error_kind: str | None = None,
    error_message: str | None = None,
    traceback: str | None = None,
) -> None:
    """The job's current attempt ended with ``outcome`` (``job``: its row after the change, which
    still says when and where that attempt started). No-op if it never started or had already
    ended (a pending job's last attempt is closed already)."""
    if job.attempt < 1 or job.started_at is None:
        return
    execute(
        connection,
        _CLOSE[connection.dialect.name],
        {
            "job_id": job.id,
            "attempt": job.attempt,
            "started_at": job.started_at,
            "worker_id": job.worker_id,
            "finished_at": now,
            "outcome": outcome.value,
            "error_kind": error_kind,
            "error_message": redact(error_message),
            "traceback": redact(traceback),
        },
    )


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt as ``for_jobs`` gives it, stored or read from the job's row."""

    job_id: uuid.UUID
    attempt: int
    started_at: datetime
    finished_at: datetime | None
    worker_id: str | None
    outcome: str
    error_kind: str | None = None
    error_message: str | None = None
    traceback: str | None = None


_CURRENT = {JobStatus.RUNNING.value: Outcome.RUNNING, JobStatus.COMPLETED.value: Outcome.COMPLETED}


def for_jobs(connection: Connection, job_ids: Collection[uuid.UUID]) -> list[Attempt]:
    """Every attempt of the jobs, by job then oldest first: the stored ones, and the current
    one of a running or completed job from its row."""
    if not job_ids:
        return []
    ids = list(job_ids)
    fields = [attempts.c[name] for name in Attempt.__slots__]
    stored = connection.execute(select(*fields).where(attempts.c.job_id.in_(ids))).all()
    found = {(row.job_id, row.attempt): Attempt(*row) for row in stored}
    current = connection.execute(
        select(
            jobs.c.id,
            jobs.c.attempt,
            jobs.c.status,
            jobs.c.started_at,
            jobs.c.completed_at,
            jobs.c.worker_id,
        ).where(
            jobs.c.id.in_(ids),
            jobs.c.status.in_(list(_CURRENT)),
            jobs.c.started_at.is_not(None),
        )
    ).all()
    for job in current:
        outcome = _CURRENT[job.status]
        finished_at = job.completed_at if outcome is Outcome.COMPLETED else None
        found[(job.id, job.attempt)] = Attempt(
            job.id, job.attempt, job.started_at, finished_at, job.worker_id, outcome.value
        )
    return [found[key] for key in sorted(found)]
