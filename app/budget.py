"""TokenBudget: each user's daily allowance of model tokens (``ATSPRO_USER_DAILY_TOKENS``).

Usage is stored per user and UTC day in ``token_usage`` (one row, added to by an upsert that
SQLite and PostgreSQL both run), so every process of a fleet sees the same count and a restart
forgets nothing. Only today's row is read; rows of past days stay, as a record of what users
spent, for ``ATSPRO_RETAIN_TOKEN_USAGE_DAYS`` and are then deleted by retention cleanup
(app/jobs/cleanup.py, through :func:`forget_usage_before`). Two gates use it:

* **submission** (:meth:`TokenBudget.ensure_available`): a user who has used the day's allowance
  gets ``429`` with ``Retry-After`` = seconds until the next UTC midnight, before any job exists;
* **a job attempt** (:meth:`TokenBudget.meter`): a job queued earlier whose user is out of
  allowance fails at once as ``over_budget``, and its meter stops a model request that would go
  over (:class:`app.ai.usage.TokenMeter`).

Jobs of one user that run at the same time each start from the allowance left when they began,
so the day's total can pass the limit by what those jobs use; the fair-share cap
(``ATSPRO_MAX_RUNNING_PER_USER``) bounds that.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import cast

from sqlalchemy import Table, delete, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from app.ai.usage import TokenMeter
from app.db import Database, utcnow
from app.errors import OverBudget, RateLimited
from app.models import TokenUsage

token_usage = cast(Table, TokenUsage.__table__)


class TokenBudget:
    """``daily_tokens=0``: unlimited (usage is still counted)."""

    def __init__(
        self, db: Database, *, daily_tokens: int, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db = db
        self.daily_tokens = daily_tokens
        self.clock = clock

    @property
    def limited(self) -> bool:
        return self.daily_tokens > 0

    def seconds_until_reset(self) -> int:
        """Whole seconds until the next UTC midnight, when the allowance starts again."""
        now = self.clock()
        midnight = datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=now.tzinfo)
        return max(1, math.ceil((midnight - now).total_seconds()))

    async def used_today(self, user_id: uuid.UUID) -> int:
        day = self.clock().date()
        query = select(token_usage.c.input_tokens + token_usage.c.output_tokens).where(
            token_usage.c.user_id == user_id, token_usage.c.day == day
        )
        used = await self.db.read(lambda c: c.execute(query).scalar_one_or_none())
        return int(used or 0)

    async def ensure_available(self, user_id: uuid.UUID) -> None:
        """For a new AI job: 429 with Retry-After when the day's allowance is used up."""
        if not self.limited:
            return
        used = await self.used_today(user_id)
        if used >= self.daily_tokens:
            raise RateLimited(
                f"You have used today's AI allowance of {self.daily_tokens} tokens. "
                "It resets at 00:00 UTC; try again then.",
                retry_after_s=self.seconds_until_reset(),
                limit=self.daily_tokens,
                used=used,
            )

    async def meter(self, user_id: uuid.UUID) -> TokenMeter:
        """For a job attempt: what its user has left today (over budget: :class:`OverBudget`)."""
        if not self.limited:
            return TokenMeter()
        remaining = self.daily_tokens - await self.used_today(user_id)
        if remaining <= 0:
            raise OverBudget(
                f"You have used today's AI allowance of {self.daily_tokens} tokens, so this "
                "job was stopped before calling the model. It resets at 00:00 UTC."
            )
        return TokenMeter(remaining)

    async def record(self, user_id: uuid.UUID, meter: TokenMeter) -> None:
        """Add what a job attempt used to its user's count for today."""
        if meter.used == 0:
            return
        now = self.clock()
        values = {
            "user_id": user_id,
            "day": now.date(),
            "input_tokens": meter.input_tokens,
            "output_tokens": meter.output_tokens,
            "updated_at": now,
        }

        def add(connection: Connection) -> None:
            dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
            statement = dialect.insert(token_usage).values(values)
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[token_usage.c.user_id, token_usage.c.day],
                    set_={
                        "input_tokens": token_usage.c.input_tokens
                        + statement.excluded.input_tokens,
                        "output_tokens": token_usage.c.output_tokens
                        + statement.excluded.output_tokens,
                        "updated_at": statement.excluded.updated_at,
                    },
                )
            )

        await self.db.write(add)


def usage_before(connection: Connection, day: date) -> int:
    """How many usage rows are of days before ``day`` (what a cleanup dry run reports)."""
    query = select(func.count()).where(token_usage.c.day < day)
    return int(connection.execute(query).scalar_one())


def forget_usage_before(connection: Connection, day: date, *, limit: int) -> int:
    """Delete at most ``limit`` usage rows of days before ``day``, one bounded batch of
    retention cleanup; how many went."""
    due = select(token_usage.c.user_id, token_usage.c.day).where(token_usage.c.day < day)
    key = tuple_(token_usage.c.user_id, token_usage.c.day)
    return connection.execute(delete(token_usage).where(key.in_(due.limit(limit)))).rowcount
