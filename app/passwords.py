"""Passwords: the policy a new one must meet, and Argon2id hashing (pwdlib).

Policy (OWASP ASVS 6.2, NIST 800-63B): 8 to 256 characters after Unicode NFKC normalization,
any characters, no composition rules, never truncated; refused when it is one of the commonly
used passwords or the account's own email. The common list is the most frequent 8+ character
entries of the 20,000-password list Django ships (BSD; Royce Williams' breach-frequency list),
lower-cased, in ``resources/common-passwords.txt.gz``.

Hashing runs in worker threads, at most a few at once: an Argon2id hash takes ~64 MiB for a
tenth of a second, so a burst of logins must not exhaust memory. An unknown account is checked
against a dummy hash with the same parameters, so a login takes as long whether or not the
account exists.
"""

from __future__ import annotations

import gzip
import unicodedata
from collections.abc import Callable
from functools import cache
from importlib.resources import files
from typing import TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher

from app.errors import Invalid

T = TypeVar("T")

MIN_LENGTH = 8
MAX_LENGTH = 256
HASHING_AT_ONCE = 4

# Argon2id of a random string with the hasher's parameters (argon2-cffi's RFC 9106 low-memory
# profile: m=64 MiB, t=3, p=4). Nothing verifies against it; it only costs the same time.
DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$zj9a9oWvENXB0FZ0IdYZEg$"
    "shMwqDJ74UuAfGEJkqwD3DT7wOle+IvD7ilqfmO0qYg"
)


def normalize(password: str) -> str:
    """The same password typed on another keyboard or OS is the same password."""
    return unicodedata.normalize("NFKC", password)


@cache
def common_passwords() -> frozenset[str]:
    data = files("app").joinpath("resources/common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().splitlines())


def check_policy(password: str, *, email: str, field: str = "password") -> None:
    """Refuse a password that is too short, too long, common, or the account's email."""
    text = normalize(password)
    if len(text) < MIN_LENGTH:
        raise Invalid(f"The password needs at least {MIN_LENGTH} characters", field=field)
    if len(text) > MAX_LENGTH:
        raise Invalid(f"The password can have at most {MAX_LENGTH} characters", field=field)
    folded = text.casefold()
    if folded in common_passwords():
        raise Invalid("This password is too common; choose another", field=field)
    local_part = email.casefold().partition("@")[0]
    if folded in {email.casefold(), local_part}:
        raise Invalid("The password cannot be your email address", field=field)


class Passwords:
    """Argon2id hashes, computed off the event loop."""

    def __init__(self, hasher: PasswordHash | None = None) -> None:
        self._hasher = hasher or PasswordHash((Argon2Hasher(),))
        self._limiter: CapacityLimiter | None = None

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, normalize(password))

    async def verify(self, password: str, stored: str | None) -> tuple[bool, str | None]:
        """Whether ``password`` matches ``stored`` (None: no account or no password, which
        never matches but takes as long), and a new hash when the stored one is outdated."""
        ok, updated = await self._run(self._verify, normalize(password), stored or DUMMY_HASH)
        if stored is None:
            return False, None
        return ok, updated

    def _verify(self, password: str, stored: str) -> tuple[bool, str | None]:
        try:
            return self._hasher.verify_and_update(password, stored)
        except UnknownHashError:
            self._hasher.verify(password, DUMMY_HASH)  # same time as a known kind of hash
            return False, None

    async def _run(self, function: Callable[..., T], *args: str) -> T:
        if self._limiter is None:  # created on first use: it needs the running event loop
            self._limiter = CapacityLimiter(HASHING_AT_ONCE)
        return await anyio.to_thread.run_sync(function, *args, limiter=self._limiter)
