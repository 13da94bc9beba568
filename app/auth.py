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

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import read_session_factory, session_factory, utcnow
from app.errors import Conflict, Invalid, NotFound
from app.models import ApiToken, User

TOKEN_PREFIX = "atp_"  # noqa: S105 (a marker, not a secret)
LAST_USED_RESOLUTION = timedelta(minutes=1)  # do not write on every request


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 320 or any(c.isspace() for c in email):
        raise Invalid(f"{email!r} is not an email address", field="email")
    return email


class AuthService:
    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = session_factory(engine)
        self._read_sessions = read_session_factory(engine)
        self.clock = clock

    async def create_user(self, email: str, *, is_admin: bool = False) -> tuple[User, str]:
        """A new user and a first API token (returned in clear, once)."""
        user = User(id=uuid.uuid4(), email=normalize_email(email), is_admin=is_admin)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        async with self._sessions() as session, session.begin():
            session.add(user)
            try:
                await session.flush()
            except IntegrityError:
                raise Conflict(f"a user with email {user.email} already exists") from None
            session.add(self._token_row(user.id, token, "initial"))
        return user, token

    async def create_token(self, email: str, name: str = "") -> str:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        async with self._sessions() as session, session.begin():
            user = await session.scalar(select(User).where(User.email == normalize_email(email)))
            if user is None:
                raise NotFound(f"no user with email {email}")
            session.add(self._token_row(user.id, token, name))
        return token

    async def authenticate(self, token: str) -> User | None:
        """The user a token belongs to, or None for an unknown or revoked token."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        async with self._read_sessions() as session:
            row = await session.execute(
                select(ApiToken, User)
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
            )
            found = row.one_or_none()
        if found is None:
            return None
        api_token, user = found
        now = self.clock()
        if api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_RESOLUTION:
            async with self._sessions() as session, session.begin():
                await session.execute(
                    update(ApiToken).where(ApiToken.id == api_token.id).values(last_used_at=now)
                )
        return user

    def _token_row(self, user_id: uuid.UUID, token: str, name: str) -> ApiToken:
        return ApiToken(user_id=user_id, token_hash=hash_token(token), name=name)
