"""Users and bearer API tokens.

A token is shown once; only its SHA-256 is stored. Tokens carry 256 bits of randomness, so a fast
hash is enough (a slow password hash protects guessable secrets, which these are not).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from app.db import Database, utcnow
from app.errors import Conflict, Invalid, NotFound
from app.models import ApiToken, User

TOKEN_PREFIX = "atp_"  # noqa: S105 (a marker, not a secret)
LAST_USED_RESOLUTION = timedelta(minutes=1)  # do not write on every request

users = cast(Table, User.__table__)
tokens = cast(Table, ApiToken.__table__)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 320 or any(c.isspace() for c in email):
        raise Invalid(f"{email!r} is not an email address", field="email")
    return email


class AuthService:
    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    async def create_user(self, email: str, *, is_admin: bool = False) -> tuple[User, str]:
        """A new user and a first API token (returned in clear, once)."""
        user = User(
            id=uuid.uuid4(),
            email=normalize_email(email),
            is_admin=is_admin,
            created_at=self.clock(),
        )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)

        def create(connection: Connection) -> None:
            try:
                connection.execute(
                    insert(users).values(
                        id=user.id,
                        email=user.email,
                        is_admin=user.is_admin,
                        created_at=user.created_at,
                    )
                )
            except IntegrityError:
                raise Conflict(f"a user with email {user.email} already exists") from None
            self._add_token(connection, user.id, token, "initial")

        await self.db.write(create)
        return user, token

    async def create_token(self, email: str, name: str = "") -> str:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        address = normalize_email(email)

        def create(connection: Connection) -> None:
            user_id = connection.execute(
                select(users.c.id).where(users.c.email == address)
            ).scalar_one_or_none()
            if user_id is None:
                raise NotFound(f"no user with email {address}")
            self._add_token(connection, user_id, token, name)

        await self.db.write(create)
        return token

    async def authenticate(self, token: str) -> User | None:
        """The user a token belongs to, or None for an unknown or revoked token."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        query = (
            select(
                tokens.c.id.label("token_id"),
                tokens.c.last_used_at,
                users.c.id.label("user_id"),
                users.c.email,
                users.c.is_admin,
                users.c.created_at,
            )
            .join(users, users.c.id == tokens.c.user_id)
            .where(tokens.c.token_hash == hash_token(token), tokens.c.revoked_at.is_(None))
        )
        found = await self.db.read(lambda c: c.execute(query).one_or_none())
        if found is None:
            return None
        now = self.clock()
        if found.last_used_at is None or now - found.last_used_at > LAST_USED_RESOLUTION:
            await self.db.write(
                lambda c: c.execute(
                    update(tokens).where(tokens.c.id == found.token_id).values(last_used_at=now)
                )
            )
        return User(
            id=found.user_id,
            email=found.email,
            is_admin=found.is_admin,
            created_at=found.created_at,
        )

    def _add_token(self, connection: Connection, user_id: uuid.UUID, token: str, name: str) -> None:
        connection.execute(
            insert(tokens).values(
                id=uuid.uuid4(),
                user_id=user_id,
                token_hash=hash_token(token),
                name=name,
                created_at=self.clock(),
            )
        )
