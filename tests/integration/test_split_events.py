"""RedisBus: job wake-ups cross processes over Redis pub/sub (each bus stands for a process)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import anyio
import pytest

from app.jobs.events import RedisBus, Subscription
from tests.conftest import REDIS_URL, free_port

NEVER_S = 60.0  # a wait this long only ends early if the subscriber is woken


async def woken(subscription: Subscription, within_s: float = 5.0) -> bool:
    """True if the subscription is notified within ``within_s``."""
    with anyio.move_on_after(within_s):
        await subscription.wait(NEVER_S)
        return True
    return False


@pytest.fixture
async def buses() -> AsyncIterator[tuple[RedisBus, RedisBus]]:
    """Two listening buses on one channel of the shared Redis, private to this test."""
    channel = f"atspro:test:{uuid.uuid4().hex}"
    first, second = RedisBus(REDIS_URL, channel=channel), RedisBus(REDIS_URL, channel=channel)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(first.run)
        tasks.start_soon(second.run)
        with anyio.fail_after(10):
            while not (first.listening and second.listening):
                await anyio.sleep(0.01)
        yield first, second
        tasks.cancel_scope.cancel()
    for bus in (first, second):
        await bus.aclose()


async def test_a_publish_wakes_that_users_subscribers_in_other_processes(
    buses: tuple[RedisBus, RedisBus],
) -> None:
    """A wake-up published by one bus reaches the user's subscribers on the other, no one else's."""
    publisher, listener = buses
    user, other = uuid.uuid4(), uuid.uuid4()
    async with listener.subscribe(user) as mine, listener.subscribe(other) as theirs:
        await publisher.publish({user})
        assert await woken(mine)
        assert not await woken(theirs, within_s=0.5)
        assert listener.subscriber_count == 2


async def test_a_publish_wakes_local_subscribers_directly_and_once(
    buses: tuple[RedisBus, RedisBus],
) -> None:
    """The publishing process wakes its own subscribers at once and ignores its own echo."""
    publisher, _ = buses
    user = uuid.uuid4()
    async with publisher.subscribe(user) as mine:
        await publisher.publish({user})
        assert await woken(mine, within_s=0.01)  # no round trip through Redis needed
        assert not await woken(mine, within_s=0.5)  # and the echo from Redis is dropped


async def test_with_redis_unreachable_publish_is_quiet_and_local_streams_still_wake() -> None:
    """Publishing never fails its caller when Redis is down; local subscribers are still woken,
    and the bus keeps trying to subscribe without spinning."""
    bus = RedisBus(f"redis://127.0.0.1:{free_port()}/0")
    user = uuid.uuid4()
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(bus.run)
            async with bus.subscribe(user) as mine:
                with anyio.fail_after(5):
                    await bus.publish({user})
                assert await woken(mine, within_s=0.01)
            await anyio.sleep(0.5)
            assert not bus.listening
            tasks.cancel_scope.cancel()
    finally:
        await bus.aclose()
