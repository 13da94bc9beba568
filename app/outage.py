"""Living through a backend outage: wait longer between attempts, and say so once.

A loop that talks to Redis or PostgreSQL and fails must neither spin (SAQ's dequeue retries at
once: thousands of attempts a second) nor log a traceback per attempt. :class:`Backoff` spaces the
attempts out; :class:`Outage` logs ``<name>.unavailable`` when failures start and
``<name>.recovered`` when they stop.
"""

from __future__ import annotations

import logging
import random


class Backoff:
    """Exponential delays with jitter: ``first_s``, doubling up to ``max_s``, until reset."""

    def __init__(self, first_s: float = 0.1, max_s: float = 2.0) -> None:
        self.first_s = first_s
        self.max_s = max_s
        self.failures = 0

    def next_delay(self) -> float:
        """The delay before the next attempt (half fixed, half random), counting a failure."""
        ceiling = min(self.max_s, self.first_s * 2.0**self.failures)
        self.failures = min(self.failures + 1, 32)
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 (not for security)

    def reset(self) -> None:
        self.failures = 0


class Outage:
    """Logs the start and the end of a run of failures, not every failure."""

    def __init__(self, logger: logging.Logger, name: str) -> None:
        self.logger = logger
        self.name = name
        self.down = False

    def failed(self, error: BaseException) -> None:
        if not self.down:
            self.down = True
            self.logger.warning(
                f"{self.name}.unavailable",
                extra={"error": type(error).__name__, "detail": str(error)[:200]},
            )

    def recovered(self) -> None:
        if self.down:
            self.down = False
            self.logger.info(f"{self.name}.recovered")
