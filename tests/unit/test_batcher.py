"""Batcher: calls made together are handled by one call, and a failure stays with its caller."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from app.batcher import Batcher

pytestmark = pytest.mark.anyio


class Recorder:
    def __init__(self, fail_on: int | None = None, delay_s: float = 0.0) -> None:
        self.groups: list[list[int]] = []
        self.fail_on = fail_on
        self.delay_s = delay_s

    async def __call__(self, items: Sequence[int]) -> list[int]:
        self.groups.append(list(items))
        await asyncio.sleep(self.delay_s)
        if self.fail_on in items:
            raise ValueError(f"cannot handle {self.fail_on}")
        return [item * 10 for item in items]


async def test_calls_of_one_tick_are_handled_together() -> None:
    handle = Recorder()
    batcher = Batcher(handle)
    results = await asyncio.gather(*(batcher(n) for n in range(5)))
    assert results == [0, 10, 20, 30, 40]
    assert handle.groups == [[0, 1, 2, 3, 4]]


async def test_calls_made_while_a_group_is_handled_form_the_next_group() -> None:
    handle = Recorder(delay_s=0.05)
    batcher = Batcher(handle)
    first = asyncio.gather(batcher(1), batcher(2))
    await asyncio.sleep(0.01)  # the first group is being handled now
    later = asyncio.gather(batcher(3), batcher(4), batcher(5))
    assert await first == [10, 20]
    assert await later == [30, 40, 50]
    assert handle.groups == [[1, 2], [3, 4, 5]]


async def test_only_the_failing_call_gets_the_error() -> None:
    handle = Recorder(fail_on=2)
    batcher = Batcher(handle)
    outcomes = await asyncio.gather(*(batcher(n) for n in (1, 2, 3)), return_exceptions=True)
    assert outcomes[0] == 10
    assert isinstance(outcomes[1], ValueError)
    assert outcomes[2] == 30
    assert handle.groups == [[1, 2, 3], [1], [2], [3]]  # the group, then each alone


async def test_a_caller_that_stops_waiting_does_not_stop_its_item() -> None:
    handle = Recorder(delay_s=0.05)
    batcher = Batcher(handle)
    waiting = asyncio.create_task(batcher(7))
    await asyncio.sleep(0.01)
    waiting.cancel()
    await batcher.aclose()  # waits for the group in hand
    assert handle.groups == [[7]]
    assert waiting.cancelled()
