"""Batcher: calls made together are served by one call for all of them.

A worker finishing ten jobs at once makes ten ``complete`` calls. Each could be its own write
(its own transaction, its own statements); the database writer would commit them together, but
every one would still pay for its own statements and hand-offs. A Batcher collects the calls of
one event-loop tick, and those made while a batch is being written, and serves each group with
one call of ``handle`` (which can then write one multi-row statement where it would have written
ten). If a group fails, each of its calls is served alone, so only the one that fails gets the
error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Batcher(Generic[Item, Result]):
    def __init__(self, handle: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]]) -> None:
        self._handle = handle
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._running: asyncio.Task[None] | None = None

    async def __call__(self, item: Item) -> Result:
        """``item``'s result. A caller that stops waiting does not stop its item being handled."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._running is None:
            self._running = asyncio.create_task(self._handle_pending(), name="batcher")
        return await future

    async def aclose(self) -> None:
        """Wait until every call made so far has been handled."""
        if self._running is not None:
            await asyncio.shield(self._running)

    async def _handle_pending(self) -> None:
        group: list[tuple[Item, asyncio.Future[Result]]] = []
        try:
            # One more turn of the loop first: what the calls of this tick wake up (a worker
            # whose jobs just returned starts the next ones) joins their group.
            await asyncio.sleep(0)
            while self._pending:
                group, self._pending = self._pending, []
                try:
                    results = await self._handle([item for item, _ in group])
                except Exception as error:
                    if len(group) == 1:
                        _settle(group[0][1], error=error)
                        continue
                    for one in group:  # only the call that fails gets the error
                        try:
                            (result,) = await self._handle([one[0]])
                        except Exception as single_error:
                            _settle(one[1], error=single_error)
                        else:
                            _settle(one[1], result)
                    continue
                for (_, future), result in zip(group, results, strict=True):
                    _settle(future, result)
        finally:
            self._running = None
            for _, future in group + self._pending:  # cancelled itself: nobody waits forever
                future.cancel()
            self._pending = []


def _settle(
    future: asyncio.Future[Result],
    result: Result | None = None,
    *,
    error: BaseException | None = None,
) -> None:
    if future.done():
        return  # its caller stopped waiting
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]
