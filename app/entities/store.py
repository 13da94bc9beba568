"""SQL for entities: synchronous Core functions of a Connection (see app/db.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, and_, delete, insert, or_, select
from sqlalchemy.engine import Connection

from app.db import utcnow
from app.jobs.store import decode_cursor, encode_cursor, link_entity
from app.models import JobPostingEntity, OptimizationEntity, ResumeEntity, Upload

resumes = cast(Table, ResumeEntity.__table__)
postings = cast(Table, JobPostingEntity.__table__)
optimizations = cast(Table, OptimizationEntity.__table__)
uploads = cast(Table, Upload.__table__)

EntityRow = Row[Any]


def add(connection: Connection, table: Table, values: dict[str, Any]) -> None:
    connection.execute(insert(table).values(**values))


def keep(
    connection: Connection,
    table: Table,
    kind: str,
    job: Row[Any],
    entity_id: Any,
    values: dict[str, Any],
) -> None:
    """Store what ``job`` made in ``table`` (owned by the job's user) and link it to the job."""
    now = utcnow()
    add(connection, table, {"id": entity_id, "user_id": job.user_id, "created_at": now, **values})
    link_entity(connection, job.id, kind, entity_id, now)


def owned(
    connection: Connection, table: Table, user_id: uuid.UUID, entity_id: uuid.UUID
) -> EntityRow | None:
    query = select(table).where(table.c.id == entity_id, table.c.user_id == user_id)
    return connection.execute(query).one_or_none()


def page(
    connection: Connection, table: Table, user_id: uuid.UUID, cursor: str | None, limit: int
) -> tuple[Sequence[EntityRow], str | None]:
    """Newest first, keyset-paginated on (created_at, id) like the job list."""
    query = select(table).where(table.c.user_id == user_id)
    if cursor:
        created, entity_id = decode_cursor(cursor)
        query = query.where(
            or_(
                table.c.created_at < created,
                and_(table.c.created_at == created, table.c.id < entity_id),
            )
        )
    query = query.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit + 1)
    rows = connection.execute(query).all()
    if len(rows) > limit:
        return rows[:limit], encode_cursor(rows[limit - 1])
    return rows, None


def remove(connection: Connection, table: Table, user_id: uuid.UUID, entity_id: uuid.UUID) -> bool:
    result = connection.execute(
        delete(table).where(table.c.id == entity_id, table.c.user_id == user_id)
    )
    return bool(result.rowcount)


def upload_values(
    user_id: uuid.UUID, filename: str, content_type: str, data: bytes, sha256: str, now: datetime
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "user_id": user_id,
        "filename": filename,
        "content_type": content_type,
        "size": len(data),
        "sha256": sha256,
        "data": data,
        "created_at": now,
    }
