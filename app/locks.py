"""Named singleton locks: only one holder runs the guarded work (the recovery loop, for one).

``singleton(name)`` never waits: it yields a :class:`Lease` that is true when this caller holds
the name for the block. :class:`InProcessLocks` serves one process; :class:`RedisLocks` (when
``REDIS_URL`` is set) serves a fleet:

* the key holds a random token with a TTL, renewed every third of it while the block runs;
* release deletes the key only if it still holds our token (a Lua compare-and-delete), so a holder
  whose lease ran out never frees someone else's;
* a renewal that finds another token, or cannot reach Redis before the TTL ends, marks the lease
  lost (``lease.held`` turns false): the holder checks it before each round of work;
* every acquisition gets a fencing value, strictly greater than any earlier holder's, for writers
  that can reject a stale holder (store the highest fence seen, refuse lower ones). It is a
  per-name counter raised to the server clock in milliseconds, so it keeps growing even after
  Redis restarts empty.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import anyio

from app.outage import Outage

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("atspro.locks")

PREFIX = "atspro:lock:"
COMMAND_TIMEOUT_S = 2.0

# KEYS: lock, fence counter. ARGV: token, TTL in ms. Returns the fence, or 0 if the lock is taken.
ACQUIRE = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 0
end
local now = redis.call('TIME')
local floor = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local fence = redis.call('INCR', KEYS[2])
if fence < floor then
  redis.call('SET', KEYS[2], floor)
  fence = floor
end
return fence
"""
# KEYS: lock. ARGV: token, TTL in ms. 1 if still ours (and extended), else 0.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
# KEYS: lock. ARGV: token. 1 if it was ours and is deleted, else 0.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass
class Lease:
    """The outcome of ``singleton(name)``: true while this caller holds the name."""

    name: str
    held: bool
    fence: int = 0  # strictly greater than every earlier holder's; 0 when not acquired

    def __bool__(self) -> bool:
        return self.held


class Locks(Protocol):
    def singleton(self, name: str) -> AbstractAsyncContextManager[Lease]:
        """Yield a true :class:`Lease` if this caller holds ``name`` for the block, a false one if
        someone else does (or the lock service is unreachable)."""
        ...

    async def aclose(self) -> None: ...


def make_locks(redis_url: str | None, *, ttl_s: float) -> Locks:
    """Redis locks when ``REDIS_URL`` is set (one holder across processes), else in-process."""
    return RedisLocks(redis_url, ttl_s=ttl_s) if redis_url else InProcessLocks()


class InProcessLocks:
    def __init__(self) -> None:
        self._locks: dict[str, anyio.Lock] = {}
        self._fences = itertools.count(1)

    @asynccontextmanager
    async def singleton(self, name: str) -> AsyncIterator[Lease]:
        lock = self._locks.setdefault(name, anyio.Lock())
        if lock.locked():
            yield Lease(name, held=False)
            return
        async with lock:
            yield Lease(name, held=True, fence=next(self._fences))

    async def aclose(self) -> None:
        """Nothing to release."""


class RedisLocks:
    """Token-owned Redis locks with a TTL renewed while held (see the module docstring)."""

    def __init__(self, url: str, *, ttl_s: float, prefix: str = PREFIX) -> None:
        from redis.asyncio import Redis

        if ttl_s < 0.3:
            raise ValueError("a lock TTL under 0.3 s leaves no time to renew it")
        self.ttl_s = ttl_s
        self.prefix = prefix
        self._redis: Redis = Redis.from_url(url, socket_connect_timeout=2, socket_keepalive=True)
        self._outage = Outage(log, "locks")

    @asynccontextmanager
    async def singleton(self, name: str) -> AsyncIterator[Lease]:
        key = self.prefix + name
        token = uuid.uuid4().hex
        started = anyio.current_time()
        fence = 0
        try:
            fence = await self._run(ACQUIRE, [key, f"{key}:fence"], [token, self._ttl_ms])
        except Exception as error:  # no lock service, no lock: the caller skips this round
            self._outage.failed(error)
        else:
            self._outage.recovered()
        if not fence:
            yield Lease(name, held=False)
            return
        lease = Lease(name, held=True, fence=int(fence))
        # A plain asyncio task: a task group would wrap the block's own exceptions in a group.
        renewer = asyncio.create_task(self._renew(key, token, lease, started + self.ttl_s))
        try:
            yield lease
        finally:
            renewer.cancel()
            with anyio.move_on_after(COMMAND_TIMEOUT_S, shield=True):
                await asyncio.gather(renewer, return_exceptions=True)
                if lease.held:
                    lease.held = False
                    await self._release(key, token)

    async def _renew(self, key: str, token: str, lease: Lease, expires: float) -> None:
        """Extend the TTL every third of it; mark the lease lost when it cannot be kept."""
        while True:
            await anyio.sleep(self.ttl_s / 3)
            attempt = anyio.current_time()
            try:
                renewed = await self._run(RENEW, [key], [token, self._ttl_ms])
            except Exception as error:
                if anyio.current_time() < expires:
                    continue  # the key still lives: try again at the next beat
                self._lost(lease, type(error).__name__)
                return
            if not renewed:
                self._lost(lease, "taken over or expired")
                return
            expires = attempt + self.ttl_s

    @staticmethod
    def _lost(lease: Lease, reason: str) -> None:
        lease.held = False
        log.warning("lock.lost", extra={"lock": lease.name, "fence": lease.fence, "reason": reason})

    async def _release(self, key: str, token: str) -> None:
        try:
            await self._run(RELEASE, [key], [token])
        except Exception as error:  # the key expires on its own
            log.info("lock.release_failed", extra={"key": key, "error": type(error).__name__})

    async def _run(self, script: str, keys: list[str], args: list[str | int]) -> int:
        with anyio.fail_after(COMMAND_TIMEOUT_S):
            result = await self._redis.eval(script, len(keys), *keys, *args)  # type: ignore[misc]
        return int(result)

    @property
    def _ttl_ms(self) -> int:
        return max(1, round(self.ttl_s * 1000))

    async def aclose(self) -> None:
        with anyio.move_on_after(COMMAND_TIMEOUT_S, shield=True):
            await self._redis.aclose()
