"""/healthz and /readyz: ready means backends answer (the database a write too), own workers run,
the loop is not blocked."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import anyio
import asyncpg
import httpx
import pytest

from app.readiness import REUSE_S
from app.settings import Settings
from tests.conftest import POSTGRES_URL, LiveApp
from tests.fixtures.sqlite_lock import hold_write_lock

RefuseWrites = Callable[[bool], Awaitable[None]]
HOLD_S = 6.0  # a write lock held longer than the probe's timeout (CHECK_TIMEOUT_S, 3 s)


async def wait_until_ready(client: httpx.AsyncClient) -> httpx.Response:
    with anyio.fail_after(30):
        while (response := await client.get("/readyz")).status_code != 200:
            await anyio.sleep(0.1)
    return response


async def wait_until_unready(client: httpx.AsyncClient) -> httpx.Response:
    with anyio.fail_after(30):
        while (response := await client.get("/readyz")).status_code != 503:
            await anyio.sleep(0.1)
    return response


def probe(base_url: str, sent: threading.Event, answers: list[httpx.Response]) -> None:
    """GET /readyz from this thread (the app's loop may be blocked meanwhile)."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        sent.set()
        answers.append(client.get("/readyz"))


async def test_a_stopped_worker_makes_the_process_unready(live: LiveApp) -> None:
    """In mode all, /readyz is 503 once one of this process's workers has stopped, and says which;
    /healthz (the process is alive) stays 200."""
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        ready = await wait_until_ready(client)
        assert ready.json()["checks"]["worker:low"] == {"alive": True, "running": 0}
        [low] = [worker for worker in live.container.workers if worker.name == "low"]
        await low.stop()
        response = await client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["worker:low"]["alive"] is False
        assert body["checks"]["worker:default"]["alive"] is True
        assert (await client.get("/healthz")).status_code == 200


async def test_a_blocked_event_loop_makes_the_process_unready_until_it_recovers(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> None:
    """A synchronous sleep on the loop that HTTP and the workers share, longer than
    ATSPRO_READY_MAX_LOOP_LAG_MS, makes /readyz 503 (probed from another thread while the loop is
    blocked); some seconds later, with the loop free again, it is 200."""
    async for app in serve(make_settings(ready_max_loop_lag_ms=300)):
        async with httpx.AsyncClient(base_url=app.base_url) as client:
            await wait_until_ready(client)
            answers: list[httpx.Response] = []
            sent = threading.Event()
            prober = threading.Thread(target=probe, args=(app.base_url, sent, answers))
            prober.start()
            sent.wait(10)
            time.sleep(1.2)  # blocks the loop that serves the app: the point of the test
            await anyio.to_thread.run_sync(prober.join)
            [blocked] = answers
            assert blocked.status_code == 503, blocked.text
            loop = blocked.json()["checks"]["loop"]
            assert loop["ok"] is False
            assert loop["lagMs"] > 300
            assert loop["maxLagMs"] == 300
            recovered = await wait_until_ready(client)
            assert recovered.json()["checks"]["loop"]["ok"] is True


def chattr(flag: str, files: list[Path]) -> None:
    subprocess.run(["chattr", flag, *map(str, files)], check=True, capture_output=True)


@pytest.fixture
def immutable_sqlite(
    make_settings: Callable[..., Settings],
) -> Iterator[tuple[Settings, RefuseWrites]]:
    """SQLite app tables whose database and WAL files can be made immutable (``chattr +i``):
    reads go on, every write fails, for root too (the tests run as root, for whom permissions
    change nothing). Not the ``-shm`` file: SQLite maps it into memory, and a store into an
    immutable file's mapping is a SIGBUS that kills the process."""
    settings = make_settings()
    if shutil.which("chattr") is None:
        pytest.skip("needs chattr (e2fsprogs)")
    made: list[Path] = []

    async def refuse_writes(refuse: bool) -> None:
        if refuse:
            made[:] = [settings.data_dir / name for name in ("atspro.db", "atspro.db-wal")]
            try:
                chattr("+i", made)
            except subprocess.CalledProcessError as error:
                pytest.skip(f"this filesystem cannot make files immutable: {error.stderr!r}")
        else:
            chattr("-i", made)
            made.clear()

    yield settings, refuse_writes
    if made:  # the test failed while the files were immutable: pytest must be able to delete them
        chattr("-i", made)


@pytest.fixture
def read_only_postgres(
    make_settings: Callable[..., Settings], migrated_postgres: str
) -> tuple[Settings, RefuseWrites]:
    """PostgreSQL app tables whose database can be made read-only for new transactions
    (``default_transaction_read_only``, as on a replica after a failover); the app's open
    connections are ended so that its pool reconnects under the new setting."""
    name = migrated_postgres.rsplit("/", 1)[1]
    settings = make_settings(database_url=migrated_postgres, auto_migrate=False)

    async def refuse_writes(refuse: bool) -> None:
        admin = await asyncpg.connect(f"{POSTGRES_URL}/postgres")
        try:
            value = "on" if refuse else "off"
            await admin.execute(
                f'ALTER DATABASE "{name}" SET default_transaction_read_only = {value}'
            )
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
        finally:
            await admin.close()

    return settings, refuse_writes


@pytest.fixture(params=["sqlite", "postgres"])
def refusing_writes(request: pytest.FixtureRequest) -> tuple[Settings, RefuseWrites]:
    """An app database that can be told to refuse writes and take them again, on each backend."""
    fixture = "immutable_sqlite" if request.param == "sqlite" else "read_only_postgres"
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


async def test_a_database_that_refuses_writes_makes_the_process_unready(
    refusing_writes: tuple[Settings, RefuseWrites],
    serve: Callable[[Settings], AsyncIterator[LiveApp]],
) -> None:
    """A database that still answers reads but refuses writes (SQLite: its files made immutable;
    PostgreSQL: a read-only database) makes /readyz 503 with `database:write` failed and named in
    `failed` while `database` (the read) stays ok; once it takes writes again, /readyz is 200."""
    settings, refuse_writes = refusing_writes
    async for app in serve(settings):
        async with httpx.AsyncClient(base_url=app.base_url, timeout=30) as client:
            ready = await wait_until_ready(client)
            assert ready.json()["checks"]["database:write"] == "ok"
            assert ready.json()["failed"] == []

            await refuse_writes(True)
            refused = (await wait_until_unready(client)).json()
            assert refused["status"] == "unavailable"
            assert "database:write" in refused["failed"], refused
            assert "database" not in refused["failed"], refused
            assert refused["checks"]["database"] == "ok"
            assert refused["checks"]["database:write"].startswith("error: "), refused

            await refuse_writes(False)
            again = (await wait_until_ready(client)).json()
            assert again["checks"]["database:write"] == "ok"
            assert again["failed"] == []


async def test_the_write_check_gives_up_on_a_held_write_lock_and_recovers(live: LiveApp) -> None:
    """With SQLite's write lock held by another connection for longer than the probe may take,
    /readyz answers before the lock is released (503, `database:write` timed out, reads ok)
    rather than waiting out SQLite's busy timeout; after the release it is 200 again."""
    async with httpx.AsyncClient(base_url=live.base_url, timeout=30) as client:
        await wait_until_ready(client)
        database = live.container.settings.data_dir / "atspro.db"
        held, release = threading.Event(), threading.Event()
        holder = threading.Thread(target=hold_write_lock, args=(database, held, release, HOLD_S))
        holder.start()
        try:
            assert await anyio.to_thread.run_sync(held.wait, 10)
            await anyio.sleep(REUSE_S)  # the last check's outcome is no longer reused
            response = await client.get("/readyz")
            still_held = holder.is_alive()
        finally:
            release.set()
            await anyio.to_thread.run_sync(holder.join)
        assert still_held, "the probe waited for the lock to be released"
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["checks"]["database:write"] == "error: TimeoutError"
        assert body["checks"]["database"] == "ok"
        assert "database:write" in body["failed"]
        recovered = await wait_until_ready(client)
        assert recovered.json()["checks"]["database:write"] == "ok"
