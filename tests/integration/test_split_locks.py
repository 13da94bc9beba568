"""RedisLocks across real processes: one holder at a time, a dead holder's lock expires, a live
holder's lock is renewed, and fencing turns a stalled holder's late write away."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest
import redis
import redis.asyncio

from app.locks import RedisLocks
from tests.conftest import REDIS_URL, free_port

# A lock holder in its own process. Modes:
#   contend SECONDS  — for SECONDS, take the lock whenever free and log [start, end, fence] of each
#                      hold to the Redis list PREFIX:holds
#   hold SECONDS     — take the lock, print {"fence"}, hold it SECONDS, then try a fenced write of
#                      "late" and print {"written", "held"}
HOLDER = """
import json, sys, time
import anyio, redis.asyncio
from app.locks import RedisLocks

FENCED_WRITE = '''
if tonumber(ARGV[2]) < tonumber(redis.call('GET', KEYS[2]) or '0') then return 0 end
redis.call('SET', KEYS[1], ARGV[1]); redis.call('SET', KEYS[2], ARGV[2]); return 1
'''

async def main(url, prefix, mode, seconds, ttl):
    locks = RedisLocks(url, ttl_s=ttl, prefix=prefix)
    client = redis.asyncio.Redis.from_url(url)
    if mode == "contend":
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            async with locks.singleton("shared") as lease:
                if lease:
                    start = time.monotonic()
                    await anyio.sleep(0.03)
                    hold = json.dumps([start, time.monotonic(), lease.fence])
                    await client.rpush(prefix + "holds", hold)
            await anyio.sleep(0.005)
    else:
        async with locks.singleton("shared") as lease:
            print(json.dumps({"fence": lease.fence}), flush=True)
            await anyio.sleep(seconds)
            keys = [prefix + "resource", prefix + "resource:fence"]
            written = await client.eval(FENCED_WRITE, 2, *keys, "late", lease.fence)
            print(json.dumps({"written": written, "held": lease.held}), flush=True)
    await client.aclose()
    await locks.aclose()

anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]))
"""
FENCED_WRITE = """
if tonumber(ARGV[2]) < tonumber(redis.call('GET', KEYS[2]) or '0') then return 0 end
redis.call('SET', KEYS[1], ARGV[1]); redis.call('SET', KEYS[2], ARGV[2]); return 1
"""


@pytest.fixture
def prefix() -> Iterator[str]:
    """Lock keys private to this test, removed afterwards."""
    prefix = f"atspro:test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
async def locks(prefix: str) -> AsyncIterator[RedisLocks]:
    locks = RedisLocks(REDIS_URL, ttl_s=0.6, prefix=prefix)
    yield locks
    await locks.aclose()


def holder(prefix: str, mode: str, seconds: float, ttl: float) -> subprocess.Popen[str]:
    """A holder process; use it as a context manager (it closes its pipe and is waited for)."""
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, REDIS_URL, prefix, mode, str(seconds), str(ttl)],
        stdout=subprocess.PIPE if mode == "hold" else subprocess.DEVNULL,
        text=True,
    )


def read_line(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, f"the holder exited with {process.wait(timeout=10)}"
    return dict(json.loads(line))


async def take(locks: RedisLocks, within_s: float) -> tuple[float, int]:
    """Wait until ``locks`` gets the shared lock; (seconds waited, fence)."""
    started = time.monotonic()
    with anyio.fail_after(within_s):
        while True:
            async with locks.singleton("shared") as lease:
                if lease:
                    return time.monotonic() - started, lease.fence
            await anyio.sleep(0.02)


def test_contending_processes_hold_the_lock_one_at_a_time(prefix: str) -> None:
    """Three processes competing for 2 s never overlap, and each hold's fence is greater than the
    one before it."""
    processes = [holder(prefix, "contend", 2.0, 0.6) for _ in range(3)]
    for process in processes:
        assert process.wait(timeout=30) == 0
    client = redis.Redis.from_url(REDIS_URL)
    holds = sorted(json.loads(item) for item in client.lrange(f"{prefix}holds", 0, -1))
    client.close()
    assert len(holds) >= 10
    for (_, previous_end, previous_fence), (start, _, fence) in itertools.pairwise(holds):
        assert start > previous_end
        assert fence > previous_fence


async def test_a_killed_holders_lock_expires_after_its_ttl(locks: RedisLocks, prefix: str) -> None:
    """While the holder lives its lock is renewed past the TTL; once it is SIGKILLed (no release),
    another process gets the lock when the TTL runs out, with a greater fence."""
    with holder(prefix, "hold", 60.0, 0.6) as process:
        try:
            first = read_line(process)
            await anyio.sleep(1.5)  # more than twice the TTL: renewal keeps it
            async with locks.singleton("shared") as lease:
                assert not lease
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            waited, fence = await take(locks, within_s=10)
            assert waited < 0.6 + 2  # the TTL, and a margin for a busy machine
            assert fence > first["fence"]
        finally:
            process.kill()


async def test_a_live_holder_keeps_its_lock_and_frees_it_on_exit(locks: RedisLocks) -> None:
    """A block longer than several TTLs keeps the lock (renewal) and releases it at once on exit."""
    other = RedisLocks(REDIS_URL, ttl_s=0.6, prefix=locks.prefix)
    async with locks.singleton("shared") as lease:
        assert lease
        for _ in range(20):  # 2 s, over three TTLs
            async with other.singleton("shared") as rival:
                assert not rival
            await anyio.sleep(0.1)
        assert lease.held
    async with other.singleton("shared") as rival:
        assert rival
        assert rival.fence > lease.fence
    await other.aclose()


async def test_fencing_turns_away_a_stalled_holders_late_write(
    locks: RedisLocks, prefix: str
) -> None:
    """A holder paused (SIGSTOP) past its TTL loses the lock to another; its late write carries the
    older fence and is refused, and its release leaves the new holder's lock alone."""
    with holder(prefix, "hold", 0.5, 0.6) as process:
        try:
            await stalled_holder_is_fenced_off(locks, prefix, process)
        finally:
            process.kill()  # a stopped process would never be reaped otherwise


async def stalled_holder_is_fenced_off(
    locks: RedisLocks, prefix: str, process: subprocess.Popen[str]
) -> None:
    stale = read_line(process)
    process.send_signal(signal.SIGSTOP)
    await take(locks, within_s=5)  # its lock expired while it was stopped
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    async with locks.singleton("shared") as lease:
        assert lease.fence > stale["fence"]
        keys = [f"{prefix}resource", f"{prefix}resource:fence"]
        assert await client.eval(FENCED_WRITE, 2, *keys, "current", lease.fence) == 1  # type: ignore[misc]
        process.send_signal(signal.SIGCONT)
        late = await anyio.to_thread.run_sync(read_line, process)
        assert late["written"] == 0
        assert process.wait(timeout=10) == 0  # it released (or tried to) on its way out
        assert await client.get(keys[0]) == b"current"
        assert await client.exists(f"{prefix}shared") == 1
        assert lease.held
    await client.aclose()


async def test_with_redis_unreachable_nobody_holds_the_lock() -> None:
    """No lock service, no lock: the caller is told it does not hold it, without an error."""
    locks = RedisLocks(f"redis://127.0.0.1:{free_port()}/0", ttl_s=1)
    with anyio.fail_after(5):
        async with locks.singleton("anything") as lease:
            assert not lease
    await locks.aclose()
