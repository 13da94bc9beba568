"""Start-up state is frozen out of the garbage collector's passes while the app serves, garbage
made while serving is still collected, and stopping the app hands everything back."""

from __future__ import annotations

import gc
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

from app.settings import Settings
from tests.conftest import LiveApp


class _Node:
    def __init__(self) -> None:
        self.other: Any = self  # a reference cycle: only the collector frees it


def _tracked(target: object) -> bool:
    """Whether the collector's generations hold ``target`` (frozen objects are in none)."""
    return any(candidate is target for candidate in gc.get_objects())


async def test_start_up_objects_are_frozen_while_serving_and_released_after(
    serve: Callable[[Settings], AsyncIterator[LiveApp]], make_settings: Callable[..., Settings]
) -> None:
    gc.unfreeze()  # whatever an earlier test left
    async for live in serve(make_settings()):
        container = live.container
        assert gc.get_freeze_count() > 10_000  # modules, the app and its services
        assert not _tracked(container)

        async with await live.user("gc@example.com") as client:
            assert (await client.get("/api/jobs")).status_code == 200
        cycle = _Node()
        gone = weakref.ref(cycle)
        del cycle
        gc.collect()
        assert gone() is None  # made while serving: collected as before

    assert gc.get_freeze_count() == 0
    assert _tracked(container)
