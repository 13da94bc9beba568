"""Live events and locks across a Redis restart (a private redis-server, shut down unsaved)."""

from __future__ import annotations

import uuid

import anyio

from app.jobs.events import RedisBus
from app.locks import RedisLocks
from tests.integration.test_split_events import woken
from tests.reliability.redis_server import RedisServer


async def wait_until(condition: object, within_s: float = 15) -> None:
    with anyio.fail_after(within_s):
        while not condition():  # type: ignore[operator]
            await anyio.sleep(0.02)


async def test_a_dropped_subscription_comes_back_and_wakes_every_subscriber(
    redis_server: RedisServer,
) -> None:
    """After Redis restarts, the bus subscribes again by itself and wakes all its subscribers (so
    streams re-read what they missed), then carries other processes' wake-ups as before."""
    publisher = RedisBus(redis_server.url, ping_s=0.5)
    listener = RedisBus(redis_server.url, ping_s=0.5)
    user = uuid.uuid4()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(publisher.run)
        tasks.start_soon(listener.run)
        async with listener.subscribe(user) as subscription:
            await wait_until(lambda: listener.listening and publisher.listening)
            redis_server.shutdown_nosave()
            await wait_until(lambda: not listener.listening)
            await publisher.publish({user})  # lost: nobody is there to carry it
            await anyio.sleep(1)
            redis_server.start()
            assert await woken(subscription, within_s=15)  # the catch-up wake-up
            await wait_until(lambda: publisher.listening)
            await publisher.publish({user})
            assert await woken(subscription)
        tasks.cancel_scope.cancel()
    await publisher.aclose()
    await listener.aclose()


async def test_a_lock_held_across_a_restart_is_lost_and_fences_keep_growing(
    redis_server: RedisServer,
) -> None:
    """A holder learns that a restart lost its lock; the next holder's fence is still greater
    than every earlier one, though the counter was wiped with everything else."""
    locks = RedisLocks(redis_server.url, ttl_s=0.6)
    async with locks.singleton("restart") as first:
        assert first
        redis_server.shutdown_nosave()
        await anyio.sleep(0.3)
        redis_server.start()
        await wait_until(lambda: not first.held, within_s=5)
    async with locks.singleton("restart") as second:
        assert second
        assert second.fence > first.fence
    await locks.aclose()
