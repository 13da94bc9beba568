"""Checkpointer: moves a SQLite database's WAL into its file on a thread of its own.

SQLite checkpoints by default in the commit that takes the WAL past 1,000 pages, on the
committing connection: the app database's writer thread (and the queue's) would stop every few
hundred jobs to copy pages into the file and sync it, which was about half of their commit time
(bench/PROFILE.md). A ``PASSIVE`` checkpoint from another connection does the same work beside
the writer without blocking it or any reader; pages a reader still needs wait for the next round.
The writer keeps SQLite's own checkpoint at a much higher mark, should this thread fall behind.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger("atspro.db")

CHECKPOINT_INTERVAL_S = 0.5  # a busy writer adds on the order of 1,000 pages a second
FALLBACK_AUTOCHECKPOINT_PAGES = 20_000  # SQLite's own checkpoint, on the writer, past ~80 MB
BUSY_TIMEOUT_S = 15.0


class Checkpointer:
    """A ``PASSIVE`` checkpoint of ``path`` every ``interval_s`` until :meth:`stop`."""

    def __init__(
        self,
        path: str | None,
        interval_s: float = CHECKPOINT_INTERVAL_S,
        *,
        name: str = "atspro-db-checkpoint",
    ) -> None:
        self.path = path
        self.interval_s = interval_s
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        if path and path != ":memory:":
            self._thread = threading.Thread(target=self._run, name=name)
            self._thread.daemon = True
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        assert self.path is not None
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
        failing = False
        try:
            while not self._stopping.wait(self.interval_s):
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as error:
                    if not failing:  # once per outage, not every interval
                        log.warning("db.checkpoint_failed", extra={"error": str(error)})
                    failing = True
                else:
                    failing = False
        finally:
            connection.close()
