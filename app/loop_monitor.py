"""How late the event loop runs: HTTP and the workers share it, so a blocked loop stalls both.

:meth:`LoopLagMonitor.run` sleeps a short interval over and over and records by how much each
wake-up overshot (a coroutine that blocks the loop with synchronous work shows up as overshoot).
``lag_s`` is the largest overshoot of the last ``window_s``, and also counts the sleep in progress
once it is overdue, so a probe answered the moment a block ends already sees it.
"""

from __future__ import annotations

import time
from collections import deque

import anyio

INTERVAL_S = 0.25
WINDOW_S = 5.0


class LoopLagMonitor:
    def __init__(self, *, interval_s: float = INTERVAL_S, window_s: float = WINDOW_S) -> None:
        self.interval_s = interval_s
        self.window_s = window_s
        self._samples: deque[tuple[float, float]] = deque()  # (measured at, lag seconds)
        self._sleeping_since: float | None = None

    async def run(self) -> None:
        """Forever (until cancelled): sleep, measure the overshoot, keep the recent ones."""
        try:
            while True:
                self._sleeping_since = started = time.monotonic()
                await anyio.sleep(self.interval_s)
                woke = time.monotonic()
                self.record(woke, max(0.0, woke - started - self.interval_s))
        finally:
            self._sleeping_since = None

    def record(self, at: float, lag_s: float) -> None:
        self._samples.append((at, lag_s))
        while self._samples and self._samples[0][0] < at - self.window_s:
            self._samples.popleft()

    @property
    def lag_s(self) -> float:
        """The largest lag of the recent window, or of the current sleep if it is overdue."""
        now = time.monotonic()
        recent = max((lag for at, lag in self._samples if at >= now - self.window_s), default=0.0)
        if self._sleeping_since is None:
            return recent
        overdue = now - self._sleeping_since - self.interval_s
        return max(recent, overdue)
