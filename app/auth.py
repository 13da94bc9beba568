"""Users, their passwords and their bearer API tokens.

A token is shown once; only its SHA-256 is stored. Tokens carry 256 bits of randomness, so a fast
hash is enough (a slow password hash protects guessable secrets, which these are not). Passwords
get Argon2id (app/passwords.py); browser sessions live in app/sessions.py.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Select, Table, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from app.db import Database, utcnow
from app.errors import Conflict, Invalid, NotFound
from app.lookups import BatchLookup
from app.models import ApiToken, User
from app.passwords import Passwords, check_policy
from app.sessions import insert_session, revoke_user_sessions

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


TokenRow = Row[Any]


def _token_columns() -> Select[Any]:
    """What a token's owner may see of it (never its hash)."""
    return select(tokens.c.id, tokens.c.name, tokens.c.created_at, tokens.c.last_used_at)


class AuthService:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime] = utcnow,
        passwords: Passwords | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.passwords = passwords or Passwords()
        self._active_tokens = BatchLookup(self._which_active, missing=False)

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

    async def token_is_active(self, token: str) -> bool:
        """Whether the token still works (an open stream asks; it does not count as use).
        Streams asking together share one query (``BatchLookup``)."""
        return await self._active_tokens.get(hash_token(token))

    async def _which_active(self, hashes: Sequence[str]) -> dict[str, bool]:
        query = select(tokens.c.token_hash).where(
            tokens.c.token_hash.in_(list(hashes)), tokens.c.revoked_at.is_(None)
        )
        found = await self.db.read(lambda c: c.execute(query).scalars().all())
        return dict.fromkeys(found, True)

    # --- passwords and browser sign-in --------------------------------------------------------

    async def signup(self, email: str, password: str) -> tuple[User, str]:
        """A new user with a password, signed in: the user and a session id for the cookie."""
        address = normalize_email(email)
        check_policy(password, email=address)
        password_hash = await self.passwords.hash(password)
        user = User(id=uuid.uuid4(), email=address, is_admin=False, created_at=self.clock())

        def create(connection: Connection) -> str:
            try:
                connection.execute(
                    insert(users).values(
                        id=user.id,
                        email=user.email,
                        is_admin=False,
                        created_at=user.created_at,
                        password_hash=password_hash,
                    )
                )
            except IntegrityError:
                raise Conflict(f"a user with email {user.email} already exists") from None
            return insert_session(connection, user.id, user.created_at)

        return user, await self.db.write(create)

    async def check_password(self, email: str, password: str) -> User | None:
        """The user whose email and password these are, or None. Takes as long for an unknown
        email, a user without a password or a wrong password as for the right one."""
        try:
            address: str | None = normalize_email(email)
        except Invalid:
            address = None
        found = None
        if address is not None:
            query = select(users).where(users.c.email == address)
            found = await self.db.read(lambda c: c.execute(query).one_or_none())
        stored = found.password_hash if found is not None else None
        ok, updated = await self.passwords.verify(password, stored)
        if found is None or not ok:
            return None
        if updated is not None:  # the hashing parameters went up since: store the stronger hash
            await self._store_password_hash(found.id, updated, stored)
        return User(
            id=found.id, email=found.email, is_admin=found.is_admin, created_at=found.created_at
        )

    async def change_password(self, user: User, current: str, new: str) -> None:
        """Set a new password and end every browser session of the user (API tokens stay).

        The current password is required when there is one; a user made by the CLI sets a first
        password with the credentials they already hold."""
        check_policy(new, email=user.email, field="newPassword")
        stored = await self.db.read(
            lambda c: c.execute(
                select(users.c.password_hash).where(users.c.id == user.id)
            ).scalar_one_or_none()
        )
        if stored is not None:
            ok, _ = await self.passwords.verify(current, stored)
            if not ok:
                raise Invalid("The current password is wrong", field="currentPassword")
        new_hash = await self.passwords.hash(new)
        now = self.clock()

        def change(connection: Connection) -> None:
            connection.execute(
                update(users).where(users.c.id == user.id).values(password_hash=new_hash)
            )
            revoke_user_sessions(connection, user.id, now)

        await self.db.write(change)

    async def _store_password_hash(
        self, user_id: uuid.UUID, new_hash: str, replacing: str | None
    ) -> None:
        await self.db.write(
            lambda c: c.execute(
                update(users)
                .where(users.c.id == user_id, users.c.password_hash == replacing)
                .values(password_hash=new_hash)
            )
        )

    # --- API tokens of a signed-in user ---------------------------------------------------------

    async def list_tokens(self, user_id: uuid.UUID) -> list[TokenRow]:
        query = (
            _token_columns()
            .where(tokens.c.user_id == user_id, tokens.c.revoked_at.is_(None))
            .order_by(tokens.c.created_at.desc(), tokens.c.id)
        )
        return await self.db.read(lambda c: list(c.execute(query).all()))

    async def issue_token(self, user_id: uuid.UUID, name: str) -> tuple[TokenRow, str]:
        """A new token for ``user_id``: its row and the token in clear (shown once)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)

        def create(connection: Connection) -> TokenRow:
            token_id = self._add_token(connection, user_id, token, name)
            return connection.execute(_token_columns().where(tokens.c.id == token_id)).one()

        return await self.db.write(create), token

    async def revoke_token(self, user_id: uuid.UUID, token_id: uuid.UUID) -> None:
        """Revoke one of the user's tokens; another user's, or one already revoked, is a 404."""
        now = self.clock()

        def revoke(connection: Connection) -> None:
            revoked = connection.execute(
                update(tokens)
                .where(
                    tokens.c.id == token_id,
                    tokens.c.user_id == user_id,
                    tokens.c.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
            if revoked.rowcount == 0:
                raise NotFound("No such token")

        await self.db.write(revoke)

    def _add_token(
        self, connection: Connection, user_id: uuid.UUID, token: str, name: str
    ) -> uuid.UUID:
        token_id = uuid.uuid4()
        connection.execute(
            insert(tokens).values(
                id=token_id,
                user_id=user_id,
                token_hash=hash_token(token),
                name=name,
                created_at=self.clock(),
            )
        )
        return token_id
