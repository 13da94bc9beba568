"""Alembic builds the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import anyio
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from app.migrate import upgrade
from app.models import Base


async def drift(url: str) -> list[object]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()


async def test_sqlite_upgrade_head_matches_models(tmp_path: Path) -> None:
    """`alembic upgrade head` on an empty SQLite file leaves no drift against the models."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    await anyio.to_thread.run_sync(upgrade, url)
    assert await drift(url) == []


async def test_postgres_upgrade_head_matches_models(postgres_database: str) -> None:
    """`alembic upgrade head` on an empty PostgreSQL database leaves no drift against the models."""
    await anyio.to_thread.run_sync(upgrade, postgres_database)
    assert await drift(postgres_database) == []


async def test_upgrade_is_idempotent(tmp_path: Path) -> None:
    """Migrating twice is harmless (serve migrates SQLite on every start)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'twice.db'}"
    await anyio.to_thread.run_sync(upgrade, url)
    await anyio.to_thread.run_sync(upgrade, url)
    assert await drift(url) == []
