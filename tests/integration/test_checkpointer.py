"""The app database's WAL is folded into its file by the Checkpointer thread, not by the writer."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest
from sqlalchemy import text

from app.checkpointer import FALLBACK_AUTOCHECKPOINT_PAGES, Checkpointer
from app.db import SQLiteDatabase

pytestmark = pytest.mark.anyio

ROWS = 2000  # about 500 pages: far below the writer's own checkpoint threshold


async def _fill(db: SQLiteDatabase) -> None:
    await db.write(lambda c: c.execute(text("CREATE TABLE t (x TEXT)")))
    for start in range(0, ROWS, 100):
        await db.write(
            lambda c, start=start: c.execute(
                text("INSERT INTO t VALUES (:x)"), [{"x": f"{i:04d}" * 250} for i in range(100)]
            )
        )


async def _file_size_after(path: Path, seconds: float) -> int:
    await anyio.sleep(seconds)
    return os.path.getsize(path)


async def test_the_checkpointer_moves_the_wal_into_the_file(tmp_path: Path) -> None:
    """Writes land in the WAL; within a few intervals the database file holds them."""
    path = tmp_path / "app.db"
    db = SQLiteDatabase(f"sqlite:///{path}")
    try:
        await _fill(db)
        with anyio.fail_after(10):
            while os.path.getsize(path) < ROWS * 1000:
                await anyio.sleep(0.1)
        assert await db.read(lambda c: c.scalar(text("SELECT count(*) FROM t"))) == ROWS
    finally:
        await db.close()


async def test_without_it_the_writer_leaves_the_wal_alone(tmp_path: Path) -> None:
    """The control: with the Checkpointer stopped, the same writes stay in the WAL (the writer's
    own checkpoint waits for FALLBACK_AUTOCHECKPOINT_PAGES)."""
    assert ROWS < FALLBACK_AUTOCHECKPOINT_PAGES
    path = tmp_path / "app.db"
    db = SQLiteDatabase(f"sqlite:///{path}")
    try:
        db._checkpointer.stop()
        await _fill(db)
        # The file holds its header page and the schema at most; the 2 MB of rows are in the WAL.
        assert await _file_size_after(path, 1.5) < 100_000
        assert os.path.getsize(f"{path}-wal") >= ROWS * 1000
    finally:
        await db.close()


def test_an_in_memory_database_gets_no_thread() -> None:
    checkpointer = Checkpointer(":memory:")
    assert checkpointer._thread is None
    checkpointer.stop()
