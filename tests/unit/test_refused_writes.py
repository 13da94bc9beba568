"""Which database errors mean "this database takes no writes now" (for /readyz)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from app.db import refused_writes


def _error_from(path: Path, sql: str, *, read_only: bool = False) -> BaseException:
    uri = f"file:{path}?mode=ro" if read_only else f"file:{path}"
    connection = sqlite3.connect(uri, uri=True, timeout=0)
    try:
        connection.execute(sql)
    except sqlite3.Error as error:
        return DBAPIError.instance(sql, None, error, sqlite3.Error)
    finally:
        connection.close()
    raise AssertionError(f"{sql!r} did not fail")


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "t.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (x INTEGER)")
    return path


def test_a_read_only_database_refuses_writes(database: Path) -> None:
    assert refused_writes(_error_from(database, "INSERT INTO t VALUES (1)", read_only=True))


def test_a_full_database_refuses_writes(database: Path) -> None:
    with sqlite3.connect(database) as connection:
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count = {pages}")  # only for this connection
        with pytest.raises(sqlite3.Error) as raised:
            connection.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)"
                " INSERT INTO t SELECT i FROM n"
            )
    wrapped = DBAPIError.instance("INSERT", None, raised.value, sqlite3.Error)
    assert raised.value.sqlite_errorcode & 0xFF == 13  # SQLITE_FULL
    assert refused_writes(wrapped)


def test_a_busy_lock_a_constraint_or_a_bad_statement_is_no_refusal(database: Path) -> None:
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert not refused_writes(_error_from(database, "INSERT INTO t VALUES (1)"))  # locked
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not refused_writes(_error_from(database, "INSERT INTO nowhere VALUES (1)"))
    assert not refused_writes(ValueError("not a database error"))
