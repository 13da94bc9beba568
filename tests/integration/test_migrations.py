"""Alembic builds the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import anyio
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from app.migrate import alembic_config, upgrade
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


async def _down_and_up(url: str, *, to: str, made: str, kept: str) -> None:
    """Upgrade, downgrade to ``to`` (``made`` goes, ``kept`` of the revision before stays), and
    upgrade again without drift."""
    await anyio.to_thread.run_sync(upgrade, url)
    await anyio.to_thread.run_sync(lambda: command.downgrade(alembic_config(url), to))
    assert made not in await table_names(url)
    assert kept in await table_names(url)
    await anyio.to_thread.run_sync(upgrade, url)
    assert made in await table_names(url)
    assert await drift(url) == []


async def table_names(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def test_token_usage_migration_downgrades_and_upgrades_on_sqlite(tmp_path: Path) -> None:
    """L5: migration 0005 (token_usage) goes down to 0004 and back up on SQLite, without drift."""
    await _down_and_up(
        f"sqlite+aiosqlite:///{tmp_path / 'down.db'}",
        to="0004",
        made="token_usage",
        kept="job_attempts",
    )


async def test_token_usage_migration_downgrades_and_upgrades_on_postgres(
    postgres_database: str,
) -> None:
    """L5: migration 0005 (token_usage) goes down to 0004 and back up on PostgreSQL."""
    await _down_and_up(postgres_database, to="0004", made="token_usage", kept="job_attempts")


async def test_write_checks_migration_downgrades_and_upgrades_on_sqlite(tmp_path: Path) -> None:
    """Migration 0006 (write_checks, for /readyz) goes down to 0005 and back up on SQLite."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'down.db'}"
    await _down_and_up(url, to="0005", made="write_checks", kept="token_usage")


async def test_write_checks_migration_downgrades_and_upgrades_on_postgres(
    postgres_database: str,
) -> None:
    """Migration 0006 (write_checks, for /readyz) goes down to 0005 and back up on PostgreSQL."""
    await _down_and_up(postgres_database, to="0005", made="write_checks", kept="token_usage")


async def index_names(url: str, table: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: {index["name"] for index in inspect(sync).get_indexes(table)}
            )
    finally:
        await engine.dispose()


async def _swap_status_index(url: str) -> None:
    """Migration 0007 swaps the (status) index for (status, id) and back, without drift."""
    await anyio.to_thread.run_sync(upgrade, url)
    assert "ix_background_jobs_status_id" in await index_names(url, "background_jobs")
    await anyio.to_thread.run_sync(lambda: command.downgrade(alembic_config(url), "0006"))
    indexes = await index_names(url, "background_jobs")
    assert "ix_background_jobs_status" in indexes
    assert "ix_background_jobs_status_id" not in indexes
    await anyio.to_thread.run_sync(upgrade, url)
    indexes = await index_names(url, "background_jobs")
    assert "ix_background_jobs_status_id" in indexes
    assert "ix_background_jobs_status" not in indexes
    assert await drift(url) == []


async def test_status_id_index_migration_downgrades_and_upgrades_on_sqlite(tmp_path: Path) -> None:
    await _swap_status_index(f"sqlite+aiosqlite:///{tmp_path / 'down.db'}")


async def test_status_id_index_migration_downgrades_and_upgrades_on_postgres(
    postgres_database: str,
) -> None:
    await _swap_status_index(postgres_database)
