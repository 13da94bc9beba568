"""The prepared path's own UTC datetime conversions equal SQLAlchemy's for SQLite, both ways."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from app.db import UTCDateTime, _reader, _utc_from_text, _utc_to_text, _writer

DIALECT = sqlite.dialect()
CORE = UTCDateTime().dialect_impl(DIALECT)
CORE_BIND = CORE.bind_processor(DIALECT)
CORE_READ = CORE.result_processor(DIALECT, None)

offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
# Hypothesis takes naive bounds and attaches ``timezones`` itself.
aware = st.datetimes(
    min_value=datetime(1900, 1, 2),  # noqa: DTZ001
    max_value=datetime(9999, 12, 30),  # noqa: DTZ001
    timezones=offsets,
)


def test_the_prepared_path_uses_them_on_sqlite_only() -> None:
    from sqlalchemy.dialects import postgresql

    assert _writer(UTCDateTime(), DIALECT) is _utc_to_text
    assert _reader(UTCDateTime(), DIALECT) is _utc_from_text
    assert _writer(UTCDateTime(), postgresql.dialect()) is not _utc_to_text


@given(aware)
def test_stored_text_is_what_sqlalchemy_stores(value: datetime) -> None:
    assert CORE_BIND is not None
    assert _utc_to_text(value) == CORE_BIND(value)


@given(aware)
def test_read_back_is_what_sqlalchemy_reads(value: datetime) -> None:
    assert CORE_BIND is not None
    assert CORE_READ is not None
    stored = CORE_BIND(value)
    assert _utc_from_text(stored) == CORE_READ(stored)
    assert _utc_from_text(stored).tzinfo is UTC
    assert _utc_from_text(stored) == value


def test_a_naive_datetime_is_refused_as_before() -> None:
    with pytest.raises(ValueError, match="naive"):
        _utc_to_text(datetime(2026, 1, 1))  # noqa: DTZ001 (the point of the test)
    assert _utc_to_text(None) is None
