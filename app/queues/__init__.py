"""SAQ queues chosen by URL: our SQLite backend or SAQ's Redis and Postgres ones."""

from app.queues.factory import make_queue
from app.queues.sqlite import SQLiteQueue

__all__ = ["SQLiteQueue", "make_queue"]
