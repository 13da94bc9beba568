"""Browser sessions, kept in the database so that signing out or changing the password ends them
at once, everywhere.

The cookie holds 256 random bits; the table holds their SHA-256 (like API tokens: a fast hash is
enough for a secret nobody can guess). A session ends when it is revoked, when it has not been
used for ``session_idle_s``, or ``session_max_age_s`` after sign-in, whichever comes first. Each
sign-in makes a new id (the one the browser had is revoked), so an id planted before sign-in is
worth nothing after it.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, delete, insert, or_, select, update
from sqlalchemy.engine import Connection

from app.db import Database, utcnow
from app.lookups import BatchLookup
from app.models import User, UserSession

sessions = cast(Table, UserSession.__table__)
users = cast(Table, User.__table__)

LAST_SEEN_RESOLUTION = timedelta(minutes=1)  # do not write on every request


def hash_session_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def insert_session(connection: Connection, user_id: uuid.UUID, now: datetime) -> str:
    """A new session for ``user_id`` in the caller's transaction; returns the id for the cookie."""
    session_id = secrets.token_urlsafe(32)
    connection.execute(
        insert(sessions).values(
            id=uuid.uuid4(),
            user_id=user_id,
            token_hash=hash_session_id(session_id),
            created_at=now,
            last_seen_at=now,
        )
    )
    return session_id


def revoke_user_sessions(connection: Connection, user_id: uuid.UUID, now: datetime) -> None:
    """End every session of ``user_id`` (a password change), in the caller's transaction."""
    connection.execute(
        update(sessions)
        .where(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


class SessionService:
    def __init__(
        self,
        db: Database,
        *,
        idle_s: float,
        max_age_s: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.idle = timedelta(seconds=idle_s)
        self.max_age = timedelta(seconds=max_age_s)
        self.clock = clock
        self._touch_every = min(LAST_SEEN_RESOLUTION, self.idle / 10)
        self._live_sessions: BatchLookup[str, tuple[datetime, datetime] | None] = BatchLookup(
            self._which_live, missing=None
        )

    async def start(self, user_id: uuid.UUID, *, replacing: str | None = None) -> str:
        """Sign ``user_id`` in: a new session id; the browser's previous one, if any, ends."""
        now = self.clock()

        def start(connection: Connection) -> str:
            if replacing:
                connection.execute(
                    update(sessions)
                    .where(
                        sessions.c.token_hash == hash_session_id(replacing),
                        sessions.c.revoked_at.is_(None),
                    )
                    .values(revoked_at=now)
                )
            self._forget_dead(connection, user_id, now)
            return insert_session(connection, user_id, now)

        return await self.db.write(start)

    async def resolve(self, session_id: str) -> User | None:
        """The user a live session belongs to (and the session counts as used), or None."""
        found = await self.db.read(lambda c: c.execute(self._live(session_id)).one_or_none())
        if found is None:
            return None
        now = self.clock()
        if not self._alive(found.created_at, found.last_seen_at, now):
            return None
        if now - found.last_seen_at >= self._touch_every:
            await self.db.write(
                lambda c: c.execute(
                    update(sessions)
                    .where(sessions.c.id == found.session_id)
                    .values(last_seen_at=now)
                )
            )
        return User(
            id=found.user_id,
            email=found.email,
            is_admin=found.is_admin,
            created_at=found.created_at_user,
        )

    async def is_active(self, session_id: str) -> bool:
        """Whether the session still signs its user in (an open stream asks; it is no use).
        Streams asking together share one query (``BatchLookup``)."""
        found = await self._live_sessions.get(hash_session_id(session_id))
        return found is not None and self._alive(*found, self.clock())

    async def _which_live(
        self, hashes: Sequence[str]
    ) -> dict[str, tuple[datetime, datetime] | None]:
        """(created_at, last_seen_at) of the sessions not revoked, by hash."""
        query = (
            select(sessions.c.token_hash, sessions.c.created_at, sessions.c.last_seen_at)
            .join(users, users.c.id == sessions.c.user_id)
            .where(sessions.c.token_hash.in_(list(hashes)), sessions.c.revoked_at.is_(None))
        )
        rows = await self.db.read(lambda c: c.execute(query).all())
        return {row.token_hash: (row.created_at, row.last_seen_at) for row in rows}

    async def end(self, session_id: str) -> None:
        """Sign out: the session is revoked (unknown or already ended: nothing happens)."""
        now = self.clock()
        await self.db.write(
            lambda c: c.execute(
                update(sessions)
                .where(
                    sessions.c.token_hash == hash_session_id(session_id),
                    sessions.c.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
        )

    def _live(self, session_id: str) -> Select[Any]:
        return (
            select(
                sessions.c.id.label("session_id"),
                sessions.c.created_at,
                sessions.c.last_seen_at,
                users.c.id.label("user_id"),
                users.c.email,
                users.c.is_admin,
                users.c.created_at.label("created_at_user"),
            )
            .join(users, users.c.id == sessions.c.user_id)
            .where(
                sessions.c.token_hash == hash_session_id(session_id),
                sessions.c.revoked_at.is_(None),
            )
        )

    def _alive(self, created_at: datetime, last_seen_at: datetime, now: datetime) -> bool:
        return now - created_at < self.max_age and now - last_seen_at < self.idle

    def _forget_dead(self, connection: Connection, user_id: uuid.UUID, now: datetime) -> None:
        """Sessions of this user that can never sign in again are deleted at sign-in."""
        connection.execute(
            delete(sessions).where(
                sessions.c.user_id == user_id,
                or_(
                    sessions.c.revoked_at.is_not(None),
                    sessions.c.created_at <= now - self.max_age,
                    sessions.c.last_seen_at <= now - self.idle,
                ),
            )
        )
