"""``app.db.execute`` (Prepared statements on SQLite) stores and returns what Core would.

The job path's writes skip SQLAlchemy's per-call machinery on SQLite. If they stored a value in
another format (a datetime without microseconds, a UUID with dashes, JSON ``null`` as SQL NULL),
queries written with Core would stop matching rows. So each check writes the same row both ways
on a real migrated SQLite file and compares the raw stored text and the rows read back.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import bindparam, case, exc, insert, select, text, update

from app.db import Prepared, SQLiteDatabase, execute
from app.jobs import store
from app.jobs.status import JobStatus
from app.migrate import upgrade
from app.models import User


@pytest.fixture
def engine(tmp_path: Path) -> Any:
    url = f"sqlite+aiosqlite:///{tmp_path / 'atspro.db'}"
    upgrade(url)
    database = SQLiteDatabase(url)
    with database.engine.begin() as connection:
        connection.execute(
            insert(User.__table__).values(
                id=OWNER, email="p@example.com", is_admin=False, created_at=datetime.now(UTC)
            )
        )
    yield database.engine
    database.engine.dispose()


OWNER = uuid.uuid4()

moments = st.datetimes(  # hypothesis takes naive bounds and adds the zone itself
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


def job_values(job_id: uuid.UUID, now: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": job_id,
        "user_id": OWNER,
        "job_type": "diagnostic.echo",
        "status": JobStatus.PENDING.value,
        "priority": 5,
        "queue": "default",
        "progress": 0,
        "input_data": data,
        "retry_count": 0,
        "max_retries": 3,
        "attempt": 0,
        "stall_count": 0,
        "dedupe_key": None,
        "idempotency_key": None,
        "created_at": now,
        "updated_at": now,
    }


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    now=moments,
    data=st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    result=st.none() | st.dictionaries(st.text(max_size=8), json_values, max_size=3),
)
def test_prepared_writes_store_and_return_what_core_does(
    engine: Any, now: datetime, data: dict[str, Any], result: dict[str, Any] | None
) -> None:
    core_id, fast_id = uuid.uuid4(), uuid.uuid4()
    later = now + timedelta(microseconds=1)  # a value whose microseconds Core keeps too
    values = {"result_data": result, "completed_at": later, "progress": 100}
    bound = {f"v_{key}": value for key, value in values.items()}
    statement = store._change_statement(
        frozenset({JobStatus.PENDING}), values, fenced=False, owned=False, where=()
    )
    with engine.begin() as connection:
        connection.execute(store.INSERT_JOB, job_values(core_id, now, data))
        (fast_inserted,) = execute(connection, store.INSERT_JOB, job_values(fast_id, now, data))
        core_row = connection.execute(
            statement, {**bound, "w_job_id": core_id, "v_updated_at": later}
        ).one()
        (fast_row,) = execute(
            connection, statement, {**bound, "w_job_id": fast_id, "v_updated_at": later}
        )

        stored = {
            row[0]: row[1:]
            for row in connection.execute(
                text(
                    "SELECT id, input_data, result_data, created_at, completed_at, user_id"
                    " FROM background_jobs WHERE id IN (:a, :b)"
                ),
                {"a": core_id.hex, "b": fast_id.hex},
            )
        }
    assert stored[fast_id.hex] == stored[core_id.hex]  # the same text in every column
    assert fast_inserted.created_at == now
    assert fast_inserted.created_at.tzinfo is UTC
    expected = core_row._asdict()
    got = fast_row._asdict()
    assert got.pop("id") == fast_id
    assert expected.pop("id") == core_id
    assert got == expected


def test_prepared_returns_nothing_when_no_row_matches(engine: Any) -> None:
    statement = store._change_statement(
        frozenset({JobStatus.RUNNING}), {"progress": 5}, fenced=True, owned=False, where=()
    )
    now = datetime.now(UTC)
    with engine.begin() as connection:
        rows = execute(
            connection,
            statement,
            {"v_progress": 5, "w_job_id": uuid.uuid4(), "w_attempt": 1, "v_updated_at": now},
        )
    assert rows == []


def test_prepared_refuses_a_missing_parameter(engine: Any) -> None:
    statement = store._change_statement(
        frozenset({JobStatus.RUNNING}), {"progress": 5}, fenced=True, owned=False, where=()
    )
    with engine.begin() as connection, pytest.raises(KeyError, match="w_attempt"):
        execute(
            connection, statement, {"v_progress": 5, "w_job_id": uuid.uuid4(), "v_updated_at": 0}
        )


def test_prepared_rows_read_back_through_core(engine: Any) -> None:
    """What the fast path wrote is found by Core queries on its typed columns."""
    job_id = uuid.uuid4()
    now = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)  # no microseconds: the edge case
    with engine.begin() as connection:
        execute(connection, store.INSERT_JOB, job_values(job_id, now, {"a": 1}))
    with engine.connect() as connection:
        jobs = store.jobs
        found = connection.execute(
            select(jobs.c.id).where(jobs.c.created_at == now, jobs.c.user_id == OWNER)
        ).scalar_one()
    assert found == job_id


def test_prepared_errors_are_raised_as_sqlalchemy_raises_them(engine: Any) -> None:
    """A failing prepared statement raises SQLAlchemy's exception for it (here the job's id is
    taken: IntegrityError), so outage and conflict handling is the same on both paths."""
    job_id = uuid.uuid4()
    now = datetime.now(UTC)
    with engine.begin() as connection:
        execute(connection, store.INSERT_JOB, job_values(job_id, now, {}))
    with engine.begin() as connection, pytest.raises(exc.IntegrityError):
        execute(connection, store.INSERT_JOB, job_values(job_id, now, {}))


def test_prepared_binds_fixed_repeated_and_single_values_in_place(engine: Any) -> None:
    """Values picked by name go where SQLAlchemy put each bind: a statement whose only value
    comes from its fixed default, one with a single given value, and one that uses a name
    twice all store what Core stores."""
    jobs = store.jobs
    with engine.begin() as connection:
        job_id = uuid.uuid4()
        now = datetime.now(UTC)
        execute(connection, store.INSERT_JOB, job_values(job_id, now, {"a": 1}))
        fixed = update(jobs).values(progress_message=bindparam("w_message", value="fixed"))
        execute(connection, fixed.where(jobs.c.id == job_id), {})
        single = update(jobs).where(jobs.c.id == bindparam("w_id", type_=jobs.c.id.type))
        execute(connection, single.values(progress=7), {"w_id": job_id})
        twice = case(
            (jobs.c.progress < bindparam("w_percent"), bindparam("w_percent")),
            else_=jobs.c.progress,
        )
        statement = update(jobs).where(jobs.c.id == bindparam("w_id", type_=jobs.c.id.type))
        statement = statement.values(progress=twice)
        prepared = Prepared(statement, connection.dialect, ["w_id", "w_percent"])
        prepared.run(connection, {"w_id": job_id, "w_percent": 42})
        row = connection.execute(select(jobs).where(jobs.c.id == job_id)).one()
    assert (row.progress_message, row.progress) == ("fixed", 42)
