"""Real ``atspro`` processes for the split-mode and load benchmarks: start, wait ready, measure
memory, stop.

The same commands a deployment runs (``atspro migrate``, ``serve``, ``serve --mode web``,
``worker``), configured only through the environment, each logging to its own file so a failed
start says why.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import signal
import socket
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

import httpx

ATSPRO = str(Path(sys.executable).with_name("atspro"))
POSTGRES_URL = os.environ.get("ATSPRO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
READY_TIMEOUT_S = 60.0


# Below Linux's ephemeral range (32768-60999): a port we pick here cannot be handed to another
# process's bind(0) or outgoing connection while our child is still starting, so a readiness
# probe never reaches someone else's server (seen once as a stray 500 on a busy machine).
PORT_RANGE = (20000, 32000)


def free_port() -> int:
    for _ in range(100):
        port = random.randint(*PORT_RANGE)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORT_RANGE}")


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` (``VmRSS`` in /proc; Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def base_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for every process of one benchmark setup."""
    return {
        **os.environ,
        "ATSPRO_DATA_DIR": str(data_dir),
        "ATSPRO_SECRET_KEY": secrets.token_urlsafe(48),
        "ATSPRO_ENV": "development",
        "ATSPRO_LOG_LEVEL": os.environ.get("BENCH_SERVER_LOG_LEVEL", "warning"),
        "ATSPRO_RATE_LIMIT_SUBMIT": "off",  # the benchmarks submit far above 60/minute per user
        "ATSPRO_PROGRESS_EVENT_INTERVAL_S": "0",
        **extra,
    }


class Process:
    """One long-running ``atspro`` process (``serve`` or ``worker``) with its own port."""

    def __init__(self, command: list[str], env: Mapping[str, str], log: Path) -> None:
        self.port = free_port()
        self.command = command
        if command[0] == "worker":
            self.command = [*command, "--port", str(self.port)]
        self.env = {**env, "PORT": str(self.port)}
        self.log = log
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                ATSPRO, *self.command, env=self.env, stdout=log, stderr=asyncio.subprocess.STDOUT
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    raise RuntimeError(f"atspro {self.command} exited:\n{self.tail()}")
                try:
                    if (await client.get(f"{self.base_url}/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"atspro {self.command} not ready in {READY_TIMEOUT_S:.0f} s")

    async def stop(self, timeout_s: float = 20) -> None:
        """SIGTERM (graceful), then SIGKILL if it takes too long."""
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), timeout_s)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


async def run_cli(env: Mapping[str, str], *args: str) -> str:
    """``atspro ARGS`` to completion; its stdout (raises with stderr on failure)."""
    process = await asyncio.create_subprocess_exec(
        ATSPRO,
        *args,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    if process.returncode != 0:
        raise RuntimeError(f"atspro {' '.join(args)} failed: {err.decode()[-2000:]}")
    return out.decode()


async def create_user(env: Mapping[str, str], email: str) -> str:
    """A new user's API token (``atspro user create`` prints it alone on its last line)."""
    return (await run_cli(env, "user", "create", email)).strip().splitlines()[-1]


async def create_database() -> tuple[str, str]:
    """A fresh PostgreSQL database: (name, plain ``postgresql://`` URL)."""
    import asyncpg

    name = f"atspro_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(f"{POSTGRES_URL}/postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name, f"{POSTGRES_URL}/{name}"


async def drop_database(name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(f"{POSTGRES_URL}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def flush_redis(url: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
