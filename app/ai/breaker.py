"""CircuitBreaker: stop calling a model provider that keeps failing, try again later.

A *failed call* is one model call (with its bounded in-job retries) that gave up because the
provider was unavailable: rate-limited, a 5xx, unreachable or timing out. After ``failures`` of
them in a row the breaker **opens**: calls are refused without touching the provider, and the
caller is told how long until it may try again. After ``open_s`` it is **half-open**: exactly one
trial call is let through; its success closes the breaker, its failure opens it for another
``open_s``. An answer the provider did give (even an invalid one, or a refusal of our key) proves
it is up and resets the count.

The breaker is **per process**: each web+worker or worker process learns about the provider on
its own (a fleet of P processes sends at most P trial calls per open period). That is enough to
stop a storm of retries from one process, and needs no shared state that could itself fail.
Everything runs on one event loop, so no lock is needed; the clock is injected for tests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import StrEnum

log = logging.getLogger("atspro.ai")


class BreakerState(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"

    @property
    def level(self) -> int:
        """For the metrics gauge: 0 closed, 1 half-open, 2 open."""
        return (BreakerState.CLOSED, BreakerState.HALF_OPEN, BreakerState.OPEN).index(self)


class CircuitBreaker:
    """Consecutive-failure breaker. ``failures=0`` turns it off (always closed)."""

    def __init__(
        self, failures: int, open_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.failures = failures
        self.open_s = open_s
        self._clock = clock
        self.consecutive_failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at < self.open_s:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    @property
    def retry_after_s(self) -> float:
        """Seconds until a call may be let through again (0 when closed)."""
        if self._opened_at is None:
            return 0.0
        left = self._opened_at + self.open_s - self._clock()
        # Half-open with the trial still running: its outcome decides; look again shortly.
        return left if left > 0 else (1.0 if self._trial_running else 0.0)

    def admit(self) -> bool:
        """May a call go to the provider now? Half-open admits one trial at a time."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN or self._trial_running:
            return False
        self._trial_running = True
        log.info("ai.breaker_half_open")
        return True

    def blocks(self) -> bool:
        """Should a call already under way stop retrying? (Another call opened the breaker.)"""
        return self.state is BreakerState.OPEN

    def succeeded(self) -> None:
        """The provider answered."""
        if self._opened_at is not None:
            log.info("ai.breaker_closed")
        self.consecutive_failures = 0
        self._opened_at = None
        self._trial_running = False

    def failed(self) -> None:
        """A call gave up because the provider was unavailable."""
        self.consecutive_failures += 1
        reopen = self._opened_at is not None and self.state is BreakerState.HALF_OPEN
        first = self._opened_at is None and 0 < self.failures <= self.consecutive_failures
        if reopen or first:
            self._opened_at = self._clock()
            log.warning(
                "ai.breaker_opened",
                extra={"failures": self.consecutive_failures, "open_s": self.open_s},
            )
        self._trial_running = False

    def abandoned(self) -> None:
        """An admitted call ended without an answer either way (cancelled, a bug): a half-open
        breaker lets the next call be the trial instead of waiting forever."""
        self._trial_running = False
