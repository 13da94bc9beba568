"""SSE under abuse: disconnect storms (E1), a consumer that stops reading (E2), and shutdown with
a hundred open streams (E6). Real uvicorn servers, real sockets, a private Redis for the bus."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import struct
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import redis

from app.jobs.events import CHANNEL
from app.settings import Settings
from tests.conftest import LiveApp, read_sse
from tests.reliability.process import Api, app_process
from tests.reliability.redis_server import RedisServer

TERMINAL = {"completed", "failed", "cancelled"}


@asynccontextmanager
async def running(
    serve: Callable[[Settings], AsyncIterator[LiveApp]], settings: Settings
) -> AsyncIterator[LiveApp]:
    async for app in serve(settings):
        yield app


def open_sockets() -> int:
    """Sockets this process holds. (Files are left out: the SQLite read pool opens its
    connections lazily, up to its fixed size, which a burst of requests does.)"""
    found = 0
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed meanwhile
            found += os.readlink(f"/proc/self/fd/{name}").startswith("socket:")
    return found


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def numsub(server: RedisServer) -> int:
    client = redis.Redis(port=server.port)
    try:
        [(_channel, count)] = client.pubsub_numsub(CHANNEL)
        return int(count)
    finally:
        client.close()


def request(base_url: str, token: str, path: str = "/api/jobs/events") -> bytes:
    host = base_url.removeprefix("http://")
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    ).encode()


async def reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a crashed browser or a dropped network would."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
    await anyio.sleep(0)


async def rude_client(base_url: str, token: str, kind: int) -> None:
    """Three ways to leave: mid-request, right after the request (before the first byte), and
    after the first event."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    data = request(base_url, token)
    if kind == 0:
        writer.write(data[: len(data) // 2])
        await writer.drain()
    elif kind == 1:
        writer.write(data)
        await writer.drain()
    else:
        writer.write(data)
        await writer.drain()
        with anyio.fail_after(10):
            while b"data:" not in await reader.readline():
                pass
    await reset(writer)


def read_to_end(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(1 << 16):
        received += chunk
    return received


async def settled(condition: Callable[[], bool], within_s: float) -> bool:
    with anyio.move_on_after(within_s):
        while not condition():
            await anyio.sleep(0.1)
        return True
    return condition()


async def test_disconnect_storm_leaves_nothing_behind(
    redis_server: RedisServer,
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], AsyncIterator[LiveApp]],
) -> None:
    """E1: 600 clients connect and reset (a third mid-request, a third before the first byte, a
    third after the first event) while a well-behaved stream stays open. Within 10 s the bus has
    only that stream's subscription, the server's tasks and sockets are back at their baseline,
    Redis still sees one subscription per process, memory grew by less than 30 MB, and the open
    stream got its job's events throughout."""
    settings = make_settings(redis_url=redis_server.url, queue_url=redis_server.url)
    async with running(serve, settings) as live:
        container = live.container
        _user, token = await container.auth.create_user("storm@example.com")
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=live.base_url, headers=headers, timeout=30) as api:
            job = (
                await api.post(
                    "/api/jobs",
                    json={"jobType": "diagnostic.echo", "inputData": {"seconds": 12, "steps": 24}},
                )
            ).json()
            seen: list[dict[str, Any]] = []

            async def follow() -> None:
                async with api.stream("GET", "/api/jobs/events") as stream:
                    async for message in read_sse(stream):
                        seen.append(message)
                        if message["data"]["eventType"] in TERMINAL:
                            return

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(follow)
                assert await settled(lambda: container.bus.subscriber_count == 1, 10)
                await anyio.sleep(0.5)
                baseline_tasks = len(asyncio.all_tasks())
                baseline_sockets = open_sockets()
                baseline_rss = rss_mb()
                assert numsub(redis_server) == 1

                for wave in range(24):
                    async with anyio.create_task_group() as storm:
                        for n in range(25):
                            storm.start_soon(rude_client, live.base_url, token, (wave + n) % 3)
                progress_during = len(seen)

                assert await settled(lambda: container.bus.subscriber_count == 1, 10), (
                    container.bus.subscriber_count
                )
                assert await settled(lambda: len(asyncio.all_tasks()) <= baseline_tasks, 10), (
                    len(asyncio.all_tasks()),
                    baseline_tasks,
                )
                assert await settled(lambda: open_sockets() <= baseline_sockets, 10), (
                    open_sockets(),
                    baseline_sockets,
                )
                assert rss_mb() - baseline_rss < 30
                assert numsub(redis_server) == 1
            assert progress_during > 1  # the open stream kept getting events during the storm
            assert seen[-1]["data"]["eventType"] == "completed"
            assert seen[-1]["data"]["job"]["id"] == job["id"]


async def test_frozen_consumer_is_dropped_and_others_carry_on(
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], AsyncIterator[LiveApp]],
) -> None:
    """E2: a client that opens a stream and then stops reading (a frozen tab) holds at most what
    the socket buffers take (the kernel's, then the transport's 64 KiB high-water mark), not
    all 1,600 events produced meanwhile: the server stops producing for it, drops it after the
    send timeout (30 s) and frees its subscription, while another client of the same user gets
    every event on time and memory stays flat."""
    async with running(serve, make_settings()) as live:
        container = live.container
        _user, token = await container.auth.create_user("frozen@example.com")
        headers = {"Authorization": f"Bearer {token}"}
        host, port = live.base_url.removeprefix("http://").split(":")
        frozen = socket.socket()
        frozen.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        frozen.connect((host, int(port)))
        frozen.sendall(request(live.base_url, token))  # and never read a byte
        try:
            assert await settled(lambda: container.bus.subscriber_count == 1, 10)
            baseline_rss = rss_mb()
            async with httpx.AsyncClient(
                base_url=live.base_url, headers=headers, timeout=30
            ) as api:
                started = time.monotonic()
                ids = []
                for _ in range(4):  # ~1,600 progress events: far more than the buffers hold
                    job = await api.post(
                        "/api/jobs",
                        json={
                            "jobType": "diagnostic.echo",
                            "inputData": {"seconds": 2, "steps": 400, "echo": "x" * 2000},
                        },
                    )
                    ids.append(job.json()["id"])
                finished: set[str] = set()
                delivered = 0
                async with api.stream("GET", "/api/jobs/events") as stream:
                    async for message in read_sse(stream):
                        delivered += 1
                        if message["data"]["eventType"] in TERMINAL:
                            finished.add(message["data"]["job"]["id"])
                            if finished == set(ids):
                                break
                assert time.monotonic() - started < 25  # the frozen one slowed nobody down
                assert await settled(lambda: container.bus.subscriber_count == 0, 45)
            assert rss_mb() - baseline_rss < 30
            # What it was sent before the server gave up is what the socket buffers held.
            frozen.settimeout(10)
            received = await anyio.to_thread.run_sync(read_to_end, frozen)  # the loop serves on
            sent = received.count(b"\ndata:")
            assert 0 < sent < delivered, (sent, delivered)
        finally:
            frozen.close()


@pytest.mark.timeout(180)
def test_sigterm_with_100_open_streams_exits_promptly(tmp_path: Path) -> None:
    """E6: ``atspro serve`` with 100 open SSE streams and a job running exits 0 within a few
    seconds of SIGTERM (no wait for streams that never end), and every stream is closed."""
    with app_process(
        tmp_path / "data", ATSPRO_SHUTDOWN_GRACE_S="1", ATSPRO_RATE_LIMIT_SUBMIT="off"
    ) as app:
        app.start()
        api = Api(app, app.create_user("hundred@example.com"))
        job = api.submit(seconds=60, steps=60)
        api.wait_for(job["id"], {"running"})
        opened: list[int] = []
        ended: list[int] = []
        exited: list[float] = []

        async def watch(client: httpx.AsyncClient, n: int) -> None:
            try:
                async with client.stream("GET", "/api/jobs/events") as stream:
                    async for _message in read_sse(stream):
                        opened.append(n)
            except httpx.HTTPError:
                pass
            ended.append(n)

        async def main() -> None:
            limits = httpx.Limits(max_connections=200)
            async with (
                httpx.AsyncClient(
                    base_url=app.base_url, headers=api.headers, timeout=60, limits=limits
                ) as client,
                anyio.create_task_group() as tasks,
            ):
                for n in range(100):
                    tasks.start_soon(watch, client, n)
                with anyio.fail_after(30):
                    while len(set(opened)) < 100:
                        await anyio.sleep(0.05)
                started = time.monotonic()
                app.signal(signal.SIGTERM)
                code = await anyio.to_thread.run_sync(app.wait, 30)
                exited.append(time.monotonic() - started)
                assert code == 0
                with anyio.fail_after(10):
                    while len(ended) < 100:
                        await anyio.sleep(0.05)

        anyio.run(main)
        assert exited[0] < 10, exited
        assert sorted(ended) == list(range(100))
