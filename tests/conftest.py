"""Shared fixtures: settings on a temp data dir, a live app on a real uvicorn server, users."""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import httpx
import pytest
import uvicorn

from app.main import create_app
from app.migrate import upgrade
from app.settings import Settings
from tests.fixtures.openai_server import refuse_non_loopback
from tests.fixtures.parser_children import parser_children

REDIS_URL = os.environ.get("ATSPRO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("ATSPRO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")

# Timers for tests: short leases and sweeps so recovery is seen in seconds, not minutes.
FAST = {
    "lease_s": 2.0,
    "reaper_interval_s": 0.5,
    "reconcile_interval_s": 1.0,
    "retry_base_delay_s": 0.05,
    "retry_max_delay_s": 0.2,
    "progress_event_interval_s": 0.0,
    "shutdown_grace_s": 2.0,
    "sse_poll_s": 0.5,
    "sse_ping_s": 5.0,
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def no_real_ai_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches a real AI provider: the developer's keys are out of the environment (and
    so out of every process a test starts), and names other than loopback do not resolve."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "ATSPRO_AI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_AGENTS_DISABLE_TRACING", "1")
    refuse_non_loopback(monkeypatch)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"data_dir": tmp_path / "data", "env": "development", **FAST}
        values.update(overrides)
        return Settings(**values)

    return make


@asynccontextmanager
async def loopback_site(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app (a job board, say) on 127.0.0.1; yields its ``host:port``."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    )
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(server.serve)
        while not server.started:
            await anyio.sleep(0.02)
        try:
            yield f"127.0.0.1:{server.config.port}"
        finally:
            server.should_exit = True


@pytest.fixture
async def postgres_database() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database (``postgresql+asyncpg://`` URL), dropped afterwards."""
    name = f"atspro_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(f"{POSTGRES_URL}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_URL.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def migrated_postgres(postgres_database: str) -> str:
    """A fresh PostgreSQL database at the latest schema."""
    await anyio.to_thread.run_sync(upgrade, postgres_database)
    return postgres_database


@dataclass
class LiveApp:
    """A real uvicorn server running the app in this event loop."""

    base_url: str
    app: Any

    @property
    def container(self) -> Any:
        return self.app.state.container

    async def user(self, email: str, *, admin: bool = False) -> httpx.AsyncClient:
        """A client authenticated as a new user."""
        _user, token = await self.container.auth.create_user(email, is_admin=admin)
        return httpx.AsyncClient(
            base_url=self.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )


async def _serve(settings: Settings) -> AsyncIterator[LiveApp]:
    app = create_app(settings)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(30):
            while not server.started:
                await anyio.sleep(0.02)
        try:
            yield LiveApp(base_url=f"http://127.0.0.1:{port}", app=app)
        finally:
            server.should_exit = True


@pytest.fixture
async def live(make_settings: Callable[..., Settings]) -> AsyncIterator[LiveApp]:
    """The whole product (HTTP + workers) on SQLite in a temp dir."""
    async for app in _serve(make_settings()):
        yield app


@pytest.fixture
def serve() -> Callable[[Settings], AsyncIterator[LiveApp]]:
    """Start a live app with custom settings: ``async for app in serve(settings)``."""
    return _serve


@pytest.fixture
def no_leftover_children() -> Iterator[None]:
    """The test ends with no parser child (``app.documents.child``) of this process left."""
    yield
    assert parser_children() == []


async def read_sse(
    response: httpx.Response, *, until: Callable[[dict[str, Any]], bool] | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Parse SSE messages (id, event, data as JSON) from a streaming response."""
    message: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if line.startswith(":"):
            continue
        if not line:
            if "data" in message:
                yield message
                if until and until(message):
                    return
            message = {}
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            message["data"] = json.loads(value)
        elif field in ("id", "event"):
            message[field] = value
