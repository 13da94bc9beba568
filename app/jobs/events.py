"""Live events: a wake-up signal per user, not a transport.

Every job change is written to ``job_events`` in the same transaction as the change. After the
commit the bus tells that user's subscribers "something new"; each SSE stream then reads the events
after the last id it sent. So the database alone decides what a client sees (no event lost, none
doubled, order by event id), a slow or frozen client holds no buffer, and a bus that drops a wake-up
costs at most one poll interval. :class:`InProcessBus` serves one process; :class:`RedisBus` (when
``REDIS_URL`` is set) carries the wake-ups between processes over one Redis pub/sub channel.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from app.outage import Backoff, Outage

if TYPE_CHECKING:
    from redis.asyncio.client import PubSub

log = logging.getLogger("atspro.events")

CHANNEL = "atspro:events"
PING_S = 5.0  # an idle subscription is pinged this often; three silent periods mean it is dead
PUBLISH_TIMEOUT_S = 2.0
CLOSE_TIMEOUT_S = 2.0


class Subscription:
    """One listener's wake-up flag."""

    def __init__(self) -> None:
        self._event = anyio.Event()
        self.closed = False

    def notify(self) -> None:
        self._event.set()

    def close(self) -> None:
        self.closed = True
        self._event.set()

    async def wait(self, within_s: float) -> None:
        """Return after a notification or ``within_s`` seconds, whichever is first.

        The flag is re-armed before the caller reads the database, so a notification that arrives
        while it reads is never lost: it sets the new flag.
        """
        with anyio.move_on_after(within_s):
            await self._event.wait()
        if not self.closed:
            self._event = anyio.Event()


class EventBus(Protocol):
    async def publish(self, user_ids: set[uuid.UUID]) -> None:
        """Wake these users' subscribers, in every process. Never raises: a bus is only a hint."""
        ...

    def subscribe(self, user_id: uuid.UUID) -> AbstractAsyncContextManager[Subscription]: ...

    async def run(self) -> None:
        """Deliver other processes' wake-ups until cancelled (returns at once if there are none)."""
        ...

    def close(self) -> None:
        """Shutting down: every open stream ends."""
        ...

    async def aclose(self) -> None:
        """Release connections (after :meth:`run` was cancelled)."""
        ...

    @property
    def listening(self) -> bool:
        """Whether other processes' wake-ups arrive right now (streams poll meanwhile)."""
        ...

    @property
    def subscriber_count(self) -> int: ...


def make_bus(redis_url: str | None) -> EventBus:
    """Redis pub/sub when ``REDIS_URL`` is set (processes see each other's events), else local."""
    return RedisBus(redis_url) if redis_url else InProcessBus()


class InProcessBus:
    """Fan-out to the subscribers in this process."""

    def __init__(self) -> None:
        self._subscribers: dict[uuid.UUID, set[Subscription]] = defaultdict(set)
        self._closed = False

    async def publish(self, user_ids: set[uuid.UUID]) -> None:
        self.notify(user_ids)

    def notify(self, user_ids: Iterable[uuid.UUID]) -> None:
        for user_id in user_ids:
            for subscription in self._subscribers.get(user_id, ()):
                subscription.notify()

    def wake_all(self) -> None:
        """Every subscriber looks again (after wake-ups may have been missed)."""
        for listeners in self._subscribers.values():
            for subscription in listeners:
                subscription.notify()

    @asynccontextmanager
    async def subscribe(self, user_id: uuid.UUID) -> AsyncIterator[Subscription]:
        subscription = Subscription()
        if self._closed:
            subscription.close()
        self._subscribers[user_id].add(subscription)
        try:
            yield subscription
        finally:
            listeners = self._subscribers.get(user_id)
            if listeners is not None:
                listeners.discard(subscription)
                if not listeners:
                    del self._subscribers[user_id]

    async def run(self) -> None:
        """Nothing to listen to: every publisher is in this process."""

    def close(self) -> None:
        self._closed = True
        for listeners in self._subscribers.values():
            for subscription in listeners:
                subscription.close()

    async def aclose(self) -> None:
        """Nothing to release."""

    @property
    def listening(self) -> bool:
        return True  # there is no other process to hear from

    @property
    def subscriber_count(self) -> int:
        return sum(len(listeners) for listeners in self._subscribers.values())


class RedisBus:
    """Wake-ups across processes: user ids published on one Redis channel, fanned out locally.

    Each process holds one subscription, whatever its number of SSE clients, and ignores its own
    messages (its subscribers were woken directly). A subscription that drops, or stops answering
    pings, is opened again with backoff; once it is confirmed, every local subscriber is woken, so
    streams re-read ``job_events`` and catch up on what was published meanwhile, once and in
    order. While Redis is down, publishing fails quietly and streams fall back to polling.
    """

    def __init__(self, url: str, *, channel: str = CHANNEL, ping_s: float = PING_S) -> None:
        from redis.asyncio import Redis

        self.channel = channel
        self.ping_s = ping_s
        self._subscribed = False
        self._redis: Redis = Redis.from_url(url, socket_connect_timeout=2, socket_keepalive=True)
        self._local = InProcessBus()
        self._origin = uuid.uuid4().hex
        self._closed = False
        self._publishing = Outage(log, "events.publish")
        self._subscription = Outage(log, "events.subscription")

    async def publish(self, user_ids: set[uuid.UUID]) -> None:
        if not user_ids:
            return
        self._local.notify(user_ids)
        message = " ".join([self._origin, *(str(user_id) for user_id in user_ids)])
        try:
            with anyio.fail_after(PUBLISH_TIMEOUT_S):
                await self._redis.publish(self.channel, message)
        except Exception as error:  # a hint that cannot be sent is not an error for the caller
            self._publishing.failed(error)
        else:
            self._publishing.recovered()

    def subscribe(self, user_id: uuid.UUID) -> AbstractAsyncContextManager[Subscription]:
        return self._local.subscribe(user_id)

    async def run(self) -> None:
        backoff = Backoff(first_s=0.2, max_s=5.0)
        while not self._closed:
            try:
                await self._listen(backoff)
            except Exception as error:  # whatever broke the subscription, open a new one
                self._subscription.failed(error)
            self._subscribed = False
            await anyio.sleep(backoff.next_delay())

    async def _listen(self, backoff: Backoff) -> None:
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            await self._confirmed(pubsub)
            self._subscribed = True
            backoff.reset()
            self._subscription.recovered()
            self._local.wake_all()
            log.debug("events.subscribed", extra={"channel": self.channel})
            heard = anyio.current_time()
            while True:
                message = await pubsub.get_message(timeout=self.ping_s)
                now = anyio.current_time()
                if message is not None:
                    heard = now
                    if message["type"] == "message":
                        self._deliver(message["data"])
                elif now - heard > 3 * self.ping_s:
                    raise ConnectionError("Redis stopped answering on the events subscription")
                else:
                    await pubsub.ping()
        finally:
            with anyio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _confirmed(self, pubsub: PubSub) -> None:
        """Wait for the server's subscribe reply: only then are no messages missed."""
        with anyio.fail_after(5):
            while True:
                message: dict[str, Any] | None = await pubsub.get_message(timeout=1.0)
                if message is not None and message["type"] == "subscribe":
                    return

    def _deliver(self, data: bytes | str) -> None:
        text = data.decode() if isinstance(data, bytes) else data
        origin, *ids = text.split()
        if origin == self._origin:
            return
        users: set[uuid.UUID] = set()
        for user_id in ids:
            try:
                users.add(uuid.UUID(user_id))
            except ValueError:
                continue
        self._local.notify(users)

    def close(self) -> None:
        self._closed = True
        self._local.close()

    async def aclose(self) -> None:
        with anyio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
            await self._redis.aclose()

    @property
    def listening(self) -> bool:
        return self._subscribed

    @property
    def subscriber_count(self) -> int:
        return self._local.subscriber_count
