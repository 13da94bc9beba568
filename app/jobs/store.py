"""SQL for jobs and events: synchronous Core functions of a Connection, run by a Database.

Every change is one compare-and-set ``UPDATE … WHERE status IN (…) [AND attempt = …]
RETURNING *`` plus its event row, in the caller's transaction: no read-then-write race, and a
stale worker's write matches no row.
"""

from __future__ import annotations

import base64
import functools
import types
import typing
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from enum import Enum
from typing import Any, cast

from sqlalchemy import (
    Integer,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression
from sqlalchemy.sql.operators import custom_op

from app.db import UTCDateTime, driver_sql, execute, execute_many
from app.errors import Invalid
from app.jobs.status import JobStatus
from app.models import BackgroundJob, JobAttempt, JobEntityAssociation, JobEvent, User
from app.schemas import JobRead

jobs = cast(Table, BackgroundJob.__table__)
events = cast(Table, JobEvent.__table__)
associations = cast(Table, JobEntityAssociation.__table__)
attempt_rows = cast(Table, JobAttempt.__table__)

# A ``Row`` from a query, or a named tuple from ``app.db.execute``: read by column name.
JobRow = Any


# Built once: executing a prepared statement with parameters skips SQLAlchemy's per-call
# statement construction and cache-key work, the largest cost of a write on this hot path.
INSERT_JOB = insert(jobs).returning(*jobs.c)
INSERT_EVENT = insert(events)


@functools.lru_cache(maxsize=1024)  # the same instants recur in a group's events
def _utc_text(value: datetime) -> str:
    """A UTC datetime as pydantic writes it in JSON (``…Z``)."""
    return value.isoformat().replace("+00:00", "Z")


# A job's id and its user's recur in its two or three events and a user's jobs share one:
# ``UUID.__str__`` is Python code, a lookup here is not.
_uuid_text = functools.lru_cache(maxsize=4096)(str)


def _snapshot_field(name: str, annotation: Any) -> tuple[str, str, Any]:
    """(column, API name, converter to JSON) for one ``JobRead`` field."""
    kind = annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # ``X | None``
        (kind,) = set(typing.get_args(annotation)) - {type(None)}
    alias = JobRead.model_fields[name].alias or name
    if kind is uuid.UUID:
        return name, alias, _uuid_text
    if kind is datetime:
        return name, alias, _utc_text
    if isinstance(kind, type) and issubclass(kind, Enum):
        # ``kind(value).value`` as a dict lookup (an unknown value raises all the same).
        return name, alias, {member.value: member.value for member in kind}.__getitem__
    return name, alias, None


_SNAPSHOT = [
    _snapshot_field(name, field.annotation)
    for name, field in JobRead.model_fields.items()
    if name != "links"
]


def snapshot(job: JobRow) -> dict[str, Any]:
    """The job as the API shows it, JSON-ready: stored in each event and sent over SSE.

    Built field by field from ``JobRead``'s own field list rather than through the model: a
    job writes two or three events, and validating then dumping the model was half the cost of
    each (tests/unit/test_snapshot.py holds it equal to ``JobRead``'s JSON for any job).
    """
    data: dict[str, Any] = {}
    for name, alias, convert in _SNAPSHOT:
        value = getattr(job, name)
        data[alias] = value if value is None or convert is None else convert(value)
    data["links"] = {}
    return data


def add_event(connection: Connection, job: JobRow, event_type: str, now: datetime) -> None:
    execute(connection, INSERT_EVENT, _event(job, event_type, now))


def add_events(
    connection: Connection, changed: Sequence[JobRow], event_type: str, now: datetime
) -> None:
    """One event per job, in one statement (jobs that changed together, in that order)."""
    execute_many(connection, INSERT_EVENT, [_event(job, event_type, now) for job in changed])


def _event(job: JobRow, event_type: str, now: datetime) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "user_id": job.user_id,
        "type": event_type,
        "payload": snapshot(job),
        "created_at": now,
    }


# Advisory locks per user, in a key space of ours (PostgreSQL keeps two-key locks apart from
# one-key ones; SAQ's use its own first key).
_EVENT_ORDER_SPACE = 0x41545350  # "ATSP"
_ORDER_USER = text("SELECT pg_advisory_xact_lock(:space, hashtext(CAST(:user_id AS text)))")
_ORDER_JOB_USER = text(
    "SELECT pg_advisory_xact_lock(:space, hashtext(CAST(user_id AS text)))"
    " FROM background_jobs WHERE id = :job_id"
)


def order_events(
    connection: Connection, *, user_id: uuid.UUID | None = None, job_id: uuid.UUID | None = None
) -> None:
    """Make this transaction's event ids commit in id order with the user's other job writes.

    A stream sends a user's events by id (``id > last sent``). PostgreSQL takes ids from a
    sequence before commit, so two job writes can commit out of id order, and a stream that
    read the later one first would move past the other for good (1-2 % of events in split
    mode; tests/integration/test_postgres_races.py). So a job write takes its user's
    transaction-level lock before its first row: the user's writes queue for it, take ids in
    that order and release it at commit (other users' writes go on in parallel). Taken before
    any row lock, it cannot deadlock with them; re-taking it in the same transaction is free.
    SQLite already runs one write at a time.
    """
    if connection.dialect.name != "postgresql":
        return
    if user_id is not None:
        connection.execute(_ORDER_USER, {"space": _EVENT_ORDER_SPACE, "user_id": str(user_id)})
    else:
        connection.execute(_ORDER_JOB_USER, {"space": _EVENT_ORDER_SPACE, "job_id": job_id})


def insert_job(connection: Connection, values: dict[str, Any], event_type: str) -> JobRow:
    order_events(connection, user_id=values["user_id"])
    (job,) = execute(connection, INSERT_JOB, values)
    add_event(connection, job, event_type, values["created_at"])
    return job


def change(
    connection: Connection,
    job_id: uuid.UUID,
    *,
    sources: Collection[JobStatus],
    values: dict[str, Any],
    event_type: str | None,
    now: datetime,
    attempt: int | None = None,
    user_id: uuid.UUID | None = None,
    where: Sequence[ColumnElement[bool]] = (),
    params: dict[str, Any] | None = None,
) -> JobRow | None:
    """Apply ``values`` if the job is in one of ``sources`` (and at ``attempt``, owned by
    ``user_id``, matching ``where``); record the event. None when nothing matched.

    A value is a plain value or one of the module's constant SQL expressions (``NEXT_ATTEMPT``,
    ``RAISE_PROGRESS``…); ``where`` holds constant conditions. Their bound parameters come in
    ``params``. Constant expressions let each shape of change be built once and reused.
    """
    order_events(connection, user_id=user_id, job_id=job_id)
    statement = _change_statement(
        frozenset(sources), values, attempt is not None, user_id is not None, tuple(where)
    )
    # Parameter names never equal a column's: SQLAlchemy would SET such a column from them.
    bound = {f"v_{key}": value for key, value in values.items() if not _is_sql(value)}
    bound.update(w_job_id=job_id, v_updated_at=now)
    if attempt is not None:
        bound["w_attempt"] = attempt
    if user_id is not None:
        bound["w_user_id"] = user_id
    rows = execute(connection, statement, {**bound, **(params or {})})
    job = rows[0] if rows else None
    if job is not None and event_type is not None:
        add_event(connection, job, event_type, now)
    return job


def change_many(
    connection: Connection,
    job_ids: Sequence[uuid.UUID],
    *,
    sources: Collection[JobStatus],
    values: dict[str, Any],
    now: datetime,
) -> dict[uuid.UUID, JobRow]:
    """``change`` (no event) for each of ``job_ids`` in one statement: the changed rows by id;
    jobs not in ``sources`` are left out. SQLite only (the batched writes of one process).

    The status test is written ``+status``, which SQLite's planner cannot serve from the status
    index: without it, it reads every pending job through that index instead of looking up ten
    ids (57 µs per job instead of 19, bench/PROFILE.md). PostgreSQL has no unary plus for text.
    """
    if connection.dialect.name != "sqlite":
        raise NotImplementedError("change_many is for SQLite")
    statement = _change_statement(frozenset(sources), values, False, False, (), len(job_ids))
    bound = {f"v_{key}": value for key, value in values.items() if not _is_sql(value)}
    bound.update({f"w_job_id_{index}": job_id for index, job_id in enumerate(job_ids)})
    bound["v_updated_at"] = now
    return {row.id: row for row in execute(connection, statement, bound)}


def change_held(
    connection: Connection,
    held: Sequence[JobRow],
    *,
    source: JobStatus,
    values: Sequence[dict[str, Any]],
    now: datetime,
) -> list[JobRow] | None:
    """``change`` (no event) of each held row by its values, if that job is still in ``source``
    at the held row's attempt: all in one statement, with no row read back. The changed rows
    are the held ones with the values applied; None if any job did not match, and then none
    is changed (the caller takes the one-by-one path). SQLite only.

    For a worker's own running jobs: their rows as it started them differ from the stored ones
    only in what a change of theirs overwrites anyway (progress, lease, ``updated_at``), and
    reading every row back cost a quarter of the writer's time per completion. Each value set
    has the same keys, all plain values. Held rows must be ``app.db.execute``'s named tuples.
    """
    if connection.dialect.name != "sqlite":
        raise NotImplementedError("change_held is for SQLite")
    if not held or not all(hasattr(row, "_replace") for row in held):
        return None
    statement = _change_statement(frozenset({source}), values[0], True, False, (), returning=False)
    bound = [
        {
            **{f"v_{key}": value for key, value in each.items()},
            "w_job_id": row.id,
            "w_attempt": row.attempt,
            "v_updated_at": now,
        }
        for row, each in zip(held, values, strict=True)
    ]
    driver_sql(connection, "SAVEPOINT change_held")
    if execute_many(connection, statement, bound) != len(held):
        driver_sql(connection, "ROLLBACK TO change_held")
        driver_sql(connection, "RELEASE change_held")
        return None
    driver_sql(connection, "RELEASE change_held")
    return [row._replace(**each, updated_at=now) for row, each in zip(held, values, strict=True)]


def _is_sql(value: Any) -> bool:
    return isinstance(value, ColumnElement)


_statements: dict[tuple[Any, ...], Any] = {}
# ``+status``: the same value, but not a column SQLite may look up through an index.
_UNINDEXED_STATUS = UnaryExpression(jobs.c.status, operator=custom_op("+"), type_=String())


def _change_statement(
    sources: frozenset[JobStatus],
    values: dict[str, Any],
    fenced: bool,
    owned: bool,
    where: tuple[ColumnElement[bool], ...],
    group: int | None = None,
    returning: bool = True,
) -> Any:
    """The UPDATE for one shape of change, built once. ``group``: for that many jobs at once,
    named ``w_job_id_0``… (``change_many``), instead of one named ``w_job_id``. ``returning``:
    the changed row comes back (else nothing does)."""
    shape = (
        sources,
        tuple((key, id(value) if _is_sql(value) else None) for key, value in values.items()),
        fenced,
        owned,
        tuple(id(condition) for condition in where),
        group,
        returning,
    )
    statement = _statements.get(shape)
    if statement is None:
        # One fixed-value bind per source status, not ``status IN (...)``: an IN list is an
        # "expanding" parameter that SQLAlchemy re-renders into the SQL on every execution
        # (bench/PROFILE.md measured it at 7 % of the writer's time per job). Likewise a
        # group's ids are one bind each.
        status = jobs.c.status if group is None else _UNINDEXED_STATUS
        statuses = [
            status == bindparam(f"w_status_{index}", value=source.value)
            for index, source in enumerate(sorted(sources, key=lambda s: s.value))
        ]
        if group is None:
            which = jobs.c.id == bindparam("w_job_id")
        else:
            ids = [bindparam(f"w_job_id_{index}", type_=jobs.c.id.type) for index in range(group)]
            which = jobs.c.id.in_(ids)
        conditions = [which, or_(*statuses), *where]
        if fenced:
            conditions.append(jobs.c.attempt == bindparam("w_attempt"))
        if owned:
            conditions.append(jobs.c.user_id == bindparam("w_user_id"))
        assignments = {
            key: value if _is_sql(value) else bindparam(f"v_{key}", type_=jobs.c[key].type)
            for key, value in values.items()
        }
        assignments["updated_at"] = bindparam("v_updated_at", type_=jobs.c.updated_at.type)
        statement = update(jobs).where(*conditions).values(assignments)
        if returning:
            statement = statement.returning(*jobs.c)
        _statements[shape] = statement
    return statement


def renew_leases(
    connection: Connection,
    running: Collection[tuple[uuid.UUID, int]],
    lease: datetime,
    now: datetime,
) -> set[tuple[uuid.UUID, int]]:
    """Move the lease of each (job, attempt) still running that attempt to ``lease``; those
    pairs. One statement for every job a process runs (no event: a heartbeat is no news)."""
    query = (
        update(jobs)
        .where(
            jobs.c.status == JobStatus.RUNNING.value,
            tuple_(jobs.c.id, jobs.c.attempt).in_(list(running)),
        )
        .values(lease_expires_at=lease, updated_at=now)
        .returning(jobs.c.id, jobs.c.attempt)
    )
    return {(row.id, row.attempt) for row in connection.execute(query)}


# Constant expressions for ``change`` (their parameters go in ``params``).
NEXT_ATTEMPT = jobs.c.attempt + 1
NEXT_RETRY = jobs.c.retry_count + 1
NEXT_STALL = jobs.c.stall_count + 1
RAISE_PROGRESS = case(
    (jobs.c.progress < bindparam("w_percent"), bindparam("w_percent")), else_=jobs.c.progress
)  # progress never goes backwards within an attempt
LEASE_EXPIRED = jobs.c.lease_expires_at < bindparam("w_expired_before", type_=UTCDateTime())
STALLS_LEFT = bindparam("w_max_stalls") > NEXT_STALL


def reusable(
    connection: Connection,
    user_id: uuid.UUID,
    *,
    idempotency_key: str | None,
    idempotent_since: datetime,
    job_type: str,
    dedupe_key: str | None,
) -> JobRow | None:
    """The job a submission should get instead of a new one: the same Idempotency-Key within
    its window, or an identical job (same type and dedupe key) still pending or running."""
    if idempotency_key is not None:
        query = (
            select(jobs)
            .where(
                jobs.c.user_id == user_id,
                jobs.c.idempotency_key == idempotency_key,
                jobs.c.created_at > idempotent_since,
            )
            .order_by(jobs.c.created_at.desc())
            .limit(1)
        )
        job = connection.execute(query).one_or_none()
        if job is not None:
            return job
    if dedupe_key is not None:
        query = select(jobs).where(
            jobs.c.user_id == user_id,
            jobs.c.dedupe_key == dedupe_key,
            jobs.c.job_type == job_type,
            jobs.c.status.in_([JobStatus.PENDING.value, JobStatus.RUNNING.value]),
        )
        return connection.execute(query.limit(1)).one_or_none()
    return None


def link_entity(
    connection: Connection, job_id: uuid.UUID, entity_type: str, entity_id: uuid.UUID, now: datetime
) -> None:
    connection.execute(
        insert(associations).values(
            id=uuid.uuid4(),
            job_id=job_id,
            entity_type=entity_type,
            entity_id=entity_id,
            created_at=now,
        )
    )


def entity_links(
    connection: Connection, job_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[str, uuid.UUID]]]:
    """What each job made: (entity type, entity id) pairs from job_entity_associations."""
    if not job_ids:
        return {}
    query = select(
        associations.c.job_id, associations.c.entity_type, associations.c.entity_id
    ).where(associations.c.job_id.in_(list(job_ids)))
    links: dict[uuid.UUID, list[tuple[str, uuid.UUID]]] = {}
    for job_id, entity_type, entity_id in connection.execute(query):
        links.setdefault(job_id, []).append((entity_type, entity_id))
    return links


def serialize_user(connection: Connection, user_id: uuid.UUID) -> None:
    """Make this transaction the only one deciding for ``user_id`` until it ends.

    Check-then-act decisions per user (an Idempotency-Key or dedupe key already taken, the
    running cap) race between processes on PostgreSQL: lock the user's row for them. ``FOR NO
    KEY UPDATE`` leaves foreign-key checks (inserting the user's jobs) unblocked. SQLite has one
    writer and no row locks, so the clause is dropped there and the statement is a cheap read.
    """
    users = User.__table__
    connection.execute(
        select(users.c.id).where(users.c.id == user_id).with_for_update(key_share=True)
    )


def running_count(connection: Connection, user_id: uuid.UUID) -> int:
    query = select(func.count()).where(
        jobs.c.user_id == user_id, jobs.c.status == JobStatus.RUNNING.value
    )
    return int(connection.execute(query).scalar_one())


def get(connection: Connection, job_id: uuid.UUID) -> JobRow | None:
    return connection.execute(select(jobs).where(jobs.c.id == job_id)).one_or_none()


def remove(connection: Connection, job_id: uuid.UUID) -> None:
    delete_jobs(connection, [job_id])


def delete_jobs(connection: Connection, job_ids: Collection[uuid.UUID]) -> dict[str, int]:
    """Delete jobs with everything that hangs off them (the one place that does: a user's delete
    and retention cleanup both come here). Rows per table, for reports.

    Explicit deletes rather than ``ON DELETE CASCADE``: SQLite enforces foreign keys only when a
    connection asks, and the counts tell the cleanup report what went. Entities the jobs made
    (resumes, postings, optimizations) stay: the user still owns them.
    """
    if not job_ids:
        return {"jobs": 0, "events": 0, "associations": 0, "attempts": 0}
    ids = list(job_ids)
    removed = {
        "events": connection.execute(delete(events).where(events.c.job_id.in_(ids))).rowcount,
        "associations": connection.execute(
            delete(associations).where(associations.c.job_id.in_(ids))
        ).rowcount,
    }
    removed["attempts"] = connection.execute(
        delete(attempt_rows).where(attempt_rows.c.job_id.in_(ids))
    ).rowcount
    removed["jobs"] = connection.execute(delete(jobs).where(jobs.c.id.in_(ids))).rowcount
    return removed


def finished_before(
    connection: Connection,
    status: JobStatus,
    before: datetime,
    *,
    after_id: uuid.UUID | None = None,
    limit: int = 500,
) -> Sequence[Any]:
    """Jobs in terminal ``status`` that finished before ``before`` (id and queue), in id order
    after ``after_id``: one bounded batch for retention cleanup."""
    finished = func.coalesce(jobs.c.completed_at, jobs.c.updated_at)
    query = select(jobs.c.id, jobs.c.queue).where(jobs.c.status == status.value, finished < before)
    if after_id is not None:
        query = query.where(jobs.c.id > after_id)
    return connection.execute(query.order_by(jobs.c.id).limit(limit)).all()


def still_finished_before(
    connection: Connection, job_ids: Collection[uuid.UUID], status: JobStatus, before: datetime
) -> list[uuid.UUID]:
    """Of ``job_ids``, those still in ``status`` and finished before ``before`` (a job retried
    since the batch was read is no longer due for deletion)."""
    finished = func.coalesce(jobs.c.completed_at, jobs.c.updated_at)
    query = select(jobs.c.id).where(
        jobs.c.id.in_(list(job_ids)), jobs.c.status == status.value, finished < before
    )
    return list(connection.execute(query).scalars())


def dependents(connection: Connection, job_ids: Collection[uuid.UUID]) -> dict[str, int]:
    """How many events, entity associations and attempts hang off ``job_ids`` (for a dry run)."""
    ids = list(job_ids)
    counts = {
        "events": select(func.count()).where(events.c.job_id.in_(ids)),
        "associations": select(func.count()).where(associations.c.job_id.in_(ids)),
        "attempts": select(func.count()).where(attempt_rows.c.job_id.in_(ids)),
    }
    return {name: int(connection.execute(query).scalar_one()) for name, query in counts.items()}


def encode_cursor(job: JobRow) -> str:
    raw = f"{job.created_at.isoformat()}|{job.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, job_id = raw.partition("|")
        return datetime.fromisoformat(created), uuid.UUID(job_id)
    except (ValueError, UnicodeDecodeError):
        raise Invalid("cursor is not one this API returned", field="cursor") from None


def list_query(
    user_id: uuid.UUID,
    *,
    statuses: Sequence[JobStatus] = (),
    job_types: Sequence[str] = (),
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Select[Any]:
    """Newest first, keyset-paginated on (created_at, id): no OFFSET scans."""
    query = select(jobs).where(jobs.c.user_id == user_id)
    if statuses:
        query = query.where(jobs.c.status.in_([s.value for s in statuses]))
    if job_types:
        query = query.where(jobs.c.job_type.in_(job_types))
    if created_after:
        query = query.where(jobs.c.created_at > created_after)
    if created_before:
        query = query.where(jobs.c.created_at < created_before)
    if cursor:
        created, job_id = decode_cursor(cursor)
        query = query.where(
            or_(
                jobs.c.created_at < created,
                and_(jobs.c.created_at == created, jobs.c.id < job_id),
            )
        )
    return query.order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit)


# Built once and run through ``app.db.execute``: every open stream reads its events at every
# wake, and building the query per call was most of that read's cost (bench/PROFILE.md).
_USER_EVENTS_AFTER = (
    select(events)
    .where(events.c.user_id == bindparam("user_id"), events.c.id > bindparam("after_id"))
    .order_by(events.c.id)
    .limit(bindparam("limit", type_=Integer()))
)
_JOB_EVENTS_AFTER = _USER_EVENTS_AFTER.where(events.c.job_id == bindparam("job_id"))


def events_after(
    connection: Connection,
    user_id: uuid.UUID,
    after_id: int,
    *,
    job_id: uuid.UUID | None = None,
    limit: int = 200,
) -> Sequence[Any]:
    """The user's events after ``after_id`` (of one job, when given), oldest first."""
    params: dict[str, Any] = {"user_id": user_id, "after_id": after_id, "limit": limit}
    if job_id is None:
        return execute(connection, _USER_EVENTS_AFTER, params)
    params["job_id"] = job_id
    return execute(connection, _JOB_EVENTS_AFTER, params)


def last_event_id(
    connection: Connection, user_id: uuid.UUID, job_id: uuid.UUID | None = None
) -> int:
    query = select(func.max(events.c.id)).where(events.c.user_id == user_id)
    if job_id is not None:
        query = query.where(events.c.job_id == job_id)
    return connection.execute(query).scalar_one_or_none() or 0


def active_jobs(connection: Connection, user_id: uuid.UUID, limit: int = 500) -> Sequence[JobRow]:
    query = (
        select(jobs)
        .where(
            jobs.c.user_id == user_id,
            jobs.c.status.in_([JobStatus.PENDING.value, JobStatus.RUNNING.value]),
        )
        .order_by(jobs.c.created_at)
        .limit(limit)
    )
    return connection.execute(query).all()


def expired_leases(connection: Connection, now: datetime, limit: int = 100) -> Sequence[uuid.UUID]:
    query = (
        select(jobs.c.id)
        .where(jobs.c.status == JobStatus.RUNNING.value, jobs.c.lease_expires_at < now)
        .limit(limit)
    )
    return connection.execute(query).scalars().all()


def pending_query(before: datetime, after_id: uuid.UUID | None, limit: int = 500) -> Select[Any]:
    """Pending jobs last touched before ``before``, in id order, after ``after_id``: for the
    reconciler, which pages through every waiting job each pass. Only the columns it needs to
    enqueue one (a big backlog would otherwise be read and converted whole every 30 s), and
    walked along the (status, id) index: no sort of every pending job per page."""
    query = select(
        jobs.c.id, jobs.c.queue, jobs.c.job_type, jobs.c.priority, jobs.c.run_after
    ).where(jobs.c.status == JobStatus.PENDING.value, jobs.c.updated_at < before)
    if after_id is not None:
        query = query.where(jobs.c.id > after_id)
    return query.order_by(jobs.c.id).limit(limit)


def pending_before(
    connection: Connection, before: datetime, after_id: uuid.UUID | None, limit: int = 500
) -> Sequence[JobRow]:
    return connection.execute(pending_query(before, after_id, limit)).all()
