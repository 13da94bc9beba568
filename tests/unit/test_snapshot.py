"""``store.snapshot`` (an event's payload, built field by field) equals ``JobRead``'s JSON."""

from __future__ import annotations

import collections
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from app.errors import ErrorKind
from app.jobs import store
from app.jobs.status import JobStatus
from app.schemas import JobRead

Record = collections.namedtuple("Record", [column.key for column in store.jobs.c])  # type: ignore[misc]

moments = st.datetimes(
    min_value=datetime(1970, 1, 2),  # noqa: DTZ001 (hypothesis takes naive bounds)
    max_value=datetime(9999, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
# What JSON columns hold (infinities are written as null before they get there).
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
objects = st.dictionaries(st.text(), json_values, max_size=4)


@st.composite
def rows(draw: Any) -> Any:
    optional = st.none() | moments
    return Record(
        id=draw(st.uuids()),
        user_id=draw(st.uuids()),
        job_type=draw(st.text(max_size=20)),
        status=draw(st.sampled_from([status.value for status in JobStatus])),
        priority=draw(st.integers(1, 10)),
        queue="default",
        progress=draw(st.integers(0, 100)),
        progress_message=draw(st.none() | st.text(max_size=30)),
        input_data=draw(objects),
        result_data=draw(st.none() | objects),
        error_message=draw(st.none() | st.text(max_size=30)),
        error_kind=draw(st.none() | st.sampled_from([kind.value for kind in ErrorKind])),
        error_detail=draw(st.none() | st.text(max_size=30)),
        retry_count=draw(st.integers(0, 25)),
        max_retries=draw(st.integers(0, 25)),
        attempt=draw(st.integers(0, 100)),
        stall_count=0,
        worker_id=None,
        lease_expires_at=draw(optional),
        run_after=draw(optional),
        dedupe_key=None,
        idempotency_key=None,
        created_at=draw(moments),
        updated_at=draw(moments),
        started_at=draw(optional),
        completed_at=draw(optional),
    )


@given(rows())
def test_snapshot_is_jobreads_json(row: Any) -> None:
    expected = JobRead.model_validate(row._asdict()).model_dump(mode="json", by_alias=True)
    assert store.snapshot(row) == expected
