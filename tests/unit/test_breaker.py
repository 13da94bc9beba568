"""L3: the circuit breaker's state machine, on an injected clock."""

from __future__ import annotations

import pytest

from app.ai.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_opens_after_n_consecutive_failures(clock: Clock) -> None:
    """L3: N-1 failures leave it closed; the Nth opens it and calls are refused."""
    breaker = CircuitBreaker(3, 30.0, clock=clock)
    for _ in range(2):
        assert breaker.admit()
        breaker.failed()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.admit()
    breaker.failed()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.admit()
    assert breaker.retry_after_s == pytest.approx(30.0)


def test_success_resets_the_count(clock: Clock) -> None:
    """L3: Failures must be consecutive: an answer in between starts the count again."""
    breaker = CircuitBreaker(2, 30.0, clock=clock)
    breaker.failed()
    breaker.succeeded()
    breaker.failed()
    assert breaker.state is BreakerState.CLOSED
    breaker.failed()
    assert breaker.state is BreakerState.OPEN


def test_half_open_admits_one_trial_and_success_closes(clock: Clock) -> None:
    """L3: After the open time one trial goes through, others wait; its success closes."""
    breaker = CircuitBreaker(1, 30.0, clock=clock)
    breaker.failed()
    clock.now += 10
    assert not breaker.admit()
    assert breaker.retry_after_s == pytest.approx(20.0)
    clock.now += 20
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.admit()  # the trial
    assert not breaker.admit()  # only one at a time
    assert breaker.retry_after_s > 0
    breaker.succeeded()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.admit()
    assert breaker.retry_after_s == 0.0


def test_failed_trial_reopens_for_another_period(clock: Clock) -> None:
    """L3: A failed trial opens the breaker again for the whole open time."""
    breaker = CircuitBreaker(1, 30.0, clock=clock)
    breaker.failed()
    clock.now += 30
    assert breaker.admit()
    breaker.failed()
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_after_s == pytest.approx(30.0)
    clock.now += 29
    assert not breaker.admit()


def test_abandoned_trial_frees_the_slot(clock: Clock) -> None:
    """L3: A trial that ends without a verdict (cancelled) lets the next call be the trial."""
    breaker = CircuitBreaker(1, 30.0, clock=clock)
    breaker.failed()
    clock.now += 30
    assert breaker.admit()
    breaker.abandoned()
    assert breaker.admit()


def test_zero_failures_turns_it_off(clock: Clock) -> None:
    """L3: ATSPRO_LLM_BREAKER_FAILURES=0: never opens."""
    breaker = CircuitBreaker(0, 30.0, clock=clock)
    for _ in range(100):
        breaker.failed()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.admit()


def test_state_levels_for_the_gauge() -> None:
    """L3: The metrics gauge reads 0 closed, 1 half-open, 2 open."""
    assert [state.level for state in BreakerState] == [0, 1, 2]
