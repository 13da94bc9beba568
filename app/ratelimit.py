"""Rate limits: login attempts per account and per client address, job submissions per user.

Moving windows from the ``limits`` library, counted in process memory by default and in Redis
when ``REDIS_URL`` is set (so every web process shares one count). A limit is written in the
library's notation, several separated by ``;`` (``10/minute;100/day``), or ``off``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from app.errors import RateLimited

if TYPE_CHECKING:
    from app.settings import Settings

OFF = "off"
KEY_PREFIX = "atspro:limits"


def parse_limits(text: str) -> list[RateLimitItem]:
    """``off`` → no limit; otherwise ``limits`` notation (``60/minute;1000/day``)."""
    if text.strip().lower() == OFF:
        return []
    return parse_many(text)


@dataclass(frozen=True)
class Limit:
    """One named limit: what is counted and how much of it is allowed."""

    name: str
    items: tuple[RateLimitItem, ...]
    message: str


class RateLimits:
    """The process's limits and the storage that counts them."""

    def __init__(self, settings: Settings) -> None:
        self._pool: Any = None
        storage: Storage
        if settings.redis_url:
            from redis.asyncio import ConnectionPool

            self._pool = ConnectionPool.from_url(settings.redis_url)
            storage = RedisStorage(
                "async+" + settings.redis_url,
                implementation="redispy",
                key_prefix=KEY_PREFIX,
                connection_pool=self._pool,
            )
        else:
            storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(storage)
        self.login_account = Limit(
            "login-account",
            tuple(parse_limits(settings.rate_limit_login)),
            "Too many sign-in attempts for this account; try again later",
        )
        self.login_address = Limit(
            "login-address",
            tuple(parse_limits(settings.rate_limit_login_ip)),
            "Too many sign-in attempts from this address; try again later",
        )
        self.submit = Limit(
            "submit",
            tuple(parse_limits(settings.rate_limit_submit)),
            "Too many jobs submitted; try again later",
        )

    async def hit(self, limit: Limit, key: str) -> None:
        """Count one attempt against every window of ``limit``; 429 once any is used up."""
        for item in limit.items:
            if not await self._limiter.hit(item, limit.name, key):
                stats = await self._limiter.get_window_stats(item, limit.name, key)
                retry_after_s = max(1, math.ceil(stats.reset_time - time.time()))
                raise RateLimited(limit.message, retry_after_s=retry_after_s)

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
