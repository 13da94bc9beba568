"""Per-attempt history (``job_attempts``): SQL run inside the status change's own transaction.

An attempt opens when a worker claims the job (``start``) and closes when that attempt's status
change lands: completed, failed, retry scheduled, requeued (shutdown), stalled (reaped) or
cancelled. Both statements are prepared once and ride on the connection the status change already
holds, so the history costs two small statements per attempt and no commit of its own.

Operators read the traceback; nobody should read a secret in it, so messages and tracebacks are
redacted (tokens, keys, passwords, credentials in URLs) before they are stored.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, insert, select, update
from sqlalchemy.engine import Connection

from app.db import execute, execute_many
from app.models import JobAttempt

attempts = cast(Table, JobAttempt.__table__)

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


_OPEN = insert(attempts)
_CLOSE = (
    update(attempts)
    .where(
        attempts.c.job_id == bindparam("w_job_id"),
        attempts.c.attempt == bindparam("w_attempt"),
        attempts.c.finished_at.is_(None),
    )
    .values(
        finished_at=bindparam("v_finished_at", type_=attempts.c.finished_at.type),
        outcome=bindparam("v_outcome"),
        error_kind=bindparam("v_error_kind"),
        error_message=bindparam("v_error_message"),
        traceback=bindparam("v_traceback"),
    )
)


def open_attempts(connection: Connection, started: Sequence[Row[Any]], now: datetime) -> None:
    """Each job (just moved to running, together) starts attempt ``job.attempt``: one statement."""
    execute_many(
        connection,
        _OPEN,
        [
            {
                "job_id": job.id,
                "attempt": job.attempt,
                "started_at": now,
                "worker_id": job.worker_id,
                "outcome": Outcome.RUNNING.value,
            }
            for job in started
        ],
    )


def close_attempt(
    connection: Connection,
    job_id: uuid.UUID,
    attempt: int,
    outcome: Outcome,
    now: datetime,
    *,
    error_kind: str | None = None,
    error_message: str | None = None,
    traceback: str | None = None,
) -> None:
    """Attempt ``attempt`` of the job ended with ``outcome`` (no-op if it already ended)."""
    execute(
        connection,
        _CLOSE,
        {
            "w_job_id": job_id,
            "w_attempt": attempt,
            "v_finished_at": now,
            "v_outcome": outcome.value,
            "v_error_kind": error_kind,
            "v_error_message": redact(error_message),
            "v_traceback": redact(traceback),
        },
    )


def complete_attempts(
    connection: Connection, ended: Sequence[tuple[uuid.UUID, int]], now: datetime
) -> None:
    """``close_attempt`` with ``completed`` for each (job, attempt), in one statement."""
    execute_many(
        connection,
        _CLOSE,
        [
            {
                "w_job_id": job_id,
                "w_attempt": attempt,
                "v_finished_at": now,
                "v_outcome": Outcome.COMPLETED.value,
                "v_error_kind": None,
                "v_error_message": None,
                "v_traceback": None,
            }
            for job_id, attempt in ended
        ],
    )


def for_jobs(connection: Connection, job_ids: Collection[uuid.UUID]) -> list[Row[Any]]:
    """Every attempt of the jobs, oldest first."""
    if not job_ids:
        return []
    query = (
        select(attempts)
        .where(attempts.c.job_id.in_(list(job_ids)))
        .order_by(attempts.c.job_id, attempts.c.attempt)
    )
    return list(connection.execute(query).all())
