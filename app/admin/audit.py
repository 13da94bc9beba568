"""The admin audit log (``admin_audit``): who did what to which target, and when.

Rows keep the admin's email as well as their id, so the log still reads after the account is
gone. Written by the services that carry out the action, read newest first with id cursors.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, insert, select
from sqlalchemy.engine import Connection

from app.db import Database, utcnow
from app.errors import Invalid
from app.models import AdminAudit, User

audit = cast(Table, AdminAudit.__table__)


def add_entry(
    connection: Connection,
    admin: User,
    action: str,
    target: str | None,
    detail: dict[str, Any],
    now: datetime,
) -> None:
    connection.execute(
        insert(audit).values(
            admin_id=admin.id,
            admin_email=admin.email,
            action=action,
            target=target,
            detail=detail,
            created_at=now,
        )
    )


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(
        self,
        admin: User,
        action: str,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        now = utcnow()
        await self.db.write(lambda c: add_entry(c, admin, action, target, detail or {}, now))

    async def entries(
        self,
        *,
        action: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> tuple[Sequence[Row[Any]], str | None]:
        """Newest first; pass the returned cursor back for older entries."""
        query = select(audit)
        if action:
            query = query.where(audit.c.action == action)
        if cursor:
            if not cursor.isdigit():
                raise Invalid("cursor is not one this API returned", field="cursor")
            query = query.where(audit.c.id < int(cursor))
        query = query.order_by(audit.c.id.desc()).limit(limit + 1)
        rows = await self.db.read(lambda c: c.execute(query).all())
        if len(rows) > limit:
            return rows[:limit], str(rows[limit - 1].id)
        return rows, None
