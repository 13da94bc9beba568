"""The app database's and the SQLite queue's WALs are folded into their files by a Checkpointer
thread, not by the connection that writes."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest
from sqlalchemy import text

from app.checkpointer import FALLBACK_AUTOCHECKPOINT_PAGES, Checkpointer
from app.db import SQLiteDatabase
from app.queues.sqlite import SQLiteQueue

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


# Each enqueue is a commit of about 4 pages: 4,000 pages in all, past SQLite's default
# checkpoint mark (1,000) and below the Store's (FALLBACK_AUTOCHECKPOINT_PAGES).
QUEUE_JOBS = 1000


async def _fill_queue(queue: SQLiteQueue) -> None:
    for i in range(QUEUE_JOBS):
        await queue.enqueue("noop", key=f"job-{i}", blob=f"{i:04d}" * 250)


@pytest.mark.parametrize("checkpointing", [True, False], ids=["checkpointer", "control"])
async def test_the_queue_checkpoints_beside_its_connection(
    tmp_path: Path, checkpointing: bool
) -> None:
    """The queue's Store runs a Checkpointer too: jobs enqueued reach the file within a few
    intervals. The control stops it: the same jobs stay in the WAL, so the queue's connection
    did not checkpoint them in its commits (SQLite's default would have, past 1,000 pages)."""
    path = tmp_path / "queue.db"
    queue = SQLiteQueue(path)
    await queue.connect()
    try:
        if not checkpointing:
            checkpointer = queue._store._checkpointer
            assert checkpointer is not None
            checkpointer.stop()
        await _fill_queue(queue)
        if checkpointing:
            with anyio.fail_after(10):
                while os.path.getsize(path) < QUEUE_JOBS * 1000:
                    await anyio.sleep(0.1)
        else:
            assert await _file_size_after(path, 1.5) < 100_000
            assert os.path.getsize(f"{path}-wal") >= QUEUE_JOBS * 1000
        assert await queue.count("queued") == QUEUE_JOBS
    finally:
        await queue.disconnect()


def test_an_in_memory_database_gets_no_thread() -> None:
    checkpointer = Checkpointer(":memory:")
    assert checkpointer._thread is None
    checkpointer.stop()
