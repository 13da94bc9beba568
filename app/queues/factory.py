"""One place that turns a queue URL into a SAQ queue, so the rest of the app never names a backend.

``sqlite:///path`` is our SQLiteQueue (no server; one host); ``redis://``/``rediss://`` and
``postgres://``/``postgresql://`` are SAQ's own RedisQueue and PostgresQueue (to scale out), with
backoff while their server is away (``app.queues.resilient``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from saq.queue.base import Queue

from app.json_codec import load_record
from app.queues.sqlite import SQLiteQueue

SUPPORTED = "sqlite:///path, redis://, rediss://, postgres:// or postgresql://"


def make_queue(url: str, name: str, **kwargs: Any) -> Queue:
    """Build the queue ``name`` for ``url``; ``kwargs`` go to the backend's constructor.

    A SQLAlchemy-style driver suffix (``postgresql+asyncpg://``, ``sqlite+aiosqlite://``) is
    dropped: SAQ talks to Postgres through psycopg whatever the app's own database driver is.
    """
    parts = urlsplit(url)
    scheme, _, _driver = parts.scheme.lower().partition("+")
    kwargs.setdefault("load", load_record)  # only our jobs' records: orjson reads them exactly
    if scheme == "sqlite":
        return SQLiteQueue.from_url(url, name=name, **kwargs)
    if scheme in ("redis", "rediss"):
        from redis.asyncio import Redis

        from app.queues.resilient import ResilientRedisQueue

        plain = urlunsplit(parts._replace(scheme=scheme))
        # Bounded connects: an unreachable host fails in seconds, not the OS's minutes.
        client = Redis.from_url(plain, socket_connect_timeout=5, socket_keepalive=True)
        return ResilientRedisQueue(client, name=name, **kwargs)
    if scheme in ("postgres", "postgresql"):
        from app.queues.resilient import ResilientPostgresQueue

        plain = urlunsplit(parts._replace(scheme=scheme))
        # Each process opens a pool per queue (three): SAQ's 4-20 connections each would exhaust
        # PostgreSQL's default 100 connections with a handful of processes.
        pool = {"min_size": 1, "max_size": 8, **kwargs}
        return ResilientPostgresQueue.from_url(plain, name=name, **pool)
    # Only the scheme is echoed: the rest of a URL may hold a password.
    raise ValueError(f"unsupported queue URL scheme {parts.scheme!r}; expected {SUPPORTED}")
