"""EntityService: read, list and delete what the caller's jobs made; store uploads for parsing.

Every query is scoped to the caller: another user's id is a 404, exactly like a missing one.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Table

from app.db import Database, utcnow
from app.entities import store
from app.entities.store import EntityRow
from app.errors import NotFound


class EntityKind(StrEnum):
    RESUME = "resume"
    JOB_POSTING = "jobPosting"
    OPTIMIZATION = "optimization"

    @property
    def table(self) -> Table:
        return {
            EntityKind.RESUME: store.resumes,
            EntityKind.JOB_POSTING: store.postings,
            EntityKind.OPTIMIZATION: store.optimizations,
        }[self]

    @property
    def noun(self) -> str:
        return {"resume": "resume", "jobPosting": "job posting", "optimization": "optimization"}[
            self.value
        ]


class EntityService:
    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    async def get(self, kind: EntityKind, user_id: uuid.UUID, entity_id: uuid.UUID) -> EntityRow:
        row = await self.db.read(lambda c: store.owned(c, kind.table, user_id, entity_id))
        if row is None:
            raise NotFound(f"{kind.noun} {entity_id} not found")
        return row

    async def list(
        self, kind: EntityKind, user_id: uuid.UUID, *, cursor: str | None, limit: int
    ) -> tuple[Sequence[EntityRow], str | None]:
        return await self.db.read(lambda c: store.page(c, kind.table, user_id, cursor, limit))

    async def delete(self, kind: EntityKind, user_id: uuid.UUID, entity_id: uuid.UUID) -> None:
        if not await self.db.write(lambda c: store.remove(c, kind.table, user_id, entity_id)):
            raise NotFound(f"{kind.noun} {entity_id} not found")

    async def store_upload(
        self, user_id: uuid.UUID, filename: str, content_type: str, data: bytes
    ) -> tuple[uuid.UUID, str]:
        """Keep an uploaded file until its parse job has read it; returns (id, sha256)."""
        digest = hashlib.sha256(data).hexdigest()
        values = store.upload_values(user_id, filename, content_type, data, digest, self.clock())
        await self.db.write(lambda c: store.add(c, store.uploads, values))
        return values["id"], digest
