"""Live events: a wake-up signal per user, not a transport.

Every job change is written to ``job_events`` in the same transaction as the change. After the
commit the bus tells that user's subscribers "something new"; each SSE stream then reads the events
after the last id it sent. So the database alone decides what a client sees (no event lost, none
doubled, order by event id), a slow or frozen client holds no buffer, and a bus that drops a wake-up
costs at most one poll interval. The in-process bus serves one process; split mode adds a Redis one
behind the same protocol.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import anyio


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
    async def publish(self, user_ids: set[uuid.UUID]) -> None: ...

    def subscribe(self, user_id: uuid.UUID) -> AbstractAsyncContextManager[Subscription]: ...

    def close(self) -> None: ...

    @property
    def subscriber_count(self) -> int: ...


class InProcessBus:
    """Fan-out to the subscribers in this process."""

    def __init__(self) -> None:
        self._subscribers: dict[uuid.UUID, set[Subscription]] = defaultdict(set)
        self._closed = False

    async def publish(self, user_ids: set[uuid.UUID]) -> None:
        for user_id in user_ids:
            for subscription in self._subscribers.get(user_id, ()):
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

    def close(self) -> None:
        """Shutting down: every open stream ends."""
        self._closed = True
        for listeners in self._subscribers.values():
            for subscription in listeners:
                subscription.close()

    @property
    def subscriber_count(self) -> int:
        return sum(len(listeners) for listeners in self._subscribers.values())
