"""L3 and L5 at the engine: the circuit breaker and the token meter against a loopback
OpenAI-compatible server answering 429/500 storms (real sockets, the real SDK and client).

The breaker's clock and the engine's sleep are injected, so "30 s later" is a number, not a wait.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import pytest
from pydantic import SecretStr

from app.ai.agents import AgentsEngine
from app.ai.breaker import BreakerState, CircuitBreaker
from app.ai.engine import AIConfig
from app.ai.schemas import Engine
from app.ai.usage import TokenMeter
from app.errors import ErrorKind, OverBudget, ProviderUnavailable
from tests.fixtures.ai_samples import PLAIN_RESUME
from tests.fixtures.openai_server import (
    FakeOpenAI,
    Reply,
    refuse_non_loopback,
    running_fake_openai,
)

OPEN_S = 30.0
FAILURES = 3


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def no_wait(_delay: float) -> None:
    await anyio.sleep(0)


@pytest.fixture(autouse=True)
def only_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_non_loopback(monkeypatch)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with running_fake_openai() as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock()


EngineFactory = Callable[..., AgentsEngine]


@pytest.fixture
async def make(fake: FakeOpenAI, clock: Clock) -> AsyncIterator[EngineFactory]:
    """Engines against the fake server, with a breaker of 3 failures / 30 s on ``clock``."""
    engines: list[AgentsEngine] = []

    def build(**overrides: Any) -> AgentsEngine:
        values: dict[str, Any] = {
            "api_key": SecretStr("sk-test-breaker"),
            "base_url": fake.base_url,
            "model": "fake-llm",
            "timeout_s": 10.0,
            "max_retries": 1,
            "fallback_to_offline": False,
            **overrides,
        }
        breaker = CircuitBreaker(FAILURES, OPEN_S, clock=clock)
        engine = AgentsEngine(AIConfig(**values), sleep=no_wait, breaker=breaker)
        engines.append(engine)
        return engine

    yield build
    for engine in engines:
        await engine.aclose()


async def storm(engine: AgentsEngine, calls: int) -> list[ProviderUnavailable]:
    errors = []
    for _ in range(calls):
        with pytest.raises(ProviderUnavailable) as caught:
            await engine.parse_resume(PLAIN_RESUME)
        errors.append(caught.value)
    return errors


async def test_storm_opens_the_breaker_and_the_server_sees_no_calls_while_open(
    make: EngineFactory, fake: FakeOpenAI, clock: Clock
) -> None:
    """L3: A 429 storm: after N failed calls (each with its bounded retries) the breaker opens, and
    further calls never reach the server; they say when to come back."""
    fake.default = Reply("rate_limited", retry_after="0")
    engine = make()

    errors = await storm(engine, FAILURES)

    assert engine.breaker.state is BreakerState.OPEN
    assert len(fake.requests) == FAILURES * 2  # each call: first try + 1 bounded retry
    assert errors[-1].retry_after_s == pytest.approx(OPEN_S)  # the call that opened it
    clock.now += 10
    refused = await storm(engine, 5)
    assert len(fake.requests) == FAILURES * 2, "calls reached the provider while open"
    assert all(error.retry_after_s == pytest.approx(OPEN_S - 10) for error in refused)
    assert refused[0].exhausted_kind is ErrorKind.LLM_UNAVAILABLE
    assert "paused" in refused[0].message


async def test_half_open_trial_recovers_when_the_server_does(
    make: EngineFactory, fake: FakeOpenAI, clock: Clock
) -> None:
    """L3: After the open time one trial call goes through; the server has recovered, so it
    succeeds, the breaker closes and calls flow again."""
    fake.default = Reply("server_error", retry_after=None)
    engine = make()
    await storm(engine, FAILURES)
    seen = len(fake.requests)

    fake.default = Reply("normal")
    clock.now += OPEN_S
    assert engine.breaker.state is BreakerState.HALF_OPEN
    resume = await engine.parse_resume(PLAIN_RESUME)

    assert resume.meta is not None
    assert resume.meta.engine is Engine.AGENTS
    assert len(fake.requests) == seen + 1  # exactly the trial
    assert engine.breaker.state is BreakerState.CLOSED
    await engine.parse_resume(PLAIN_RESUME)
    assert len(fake.requests) == seen + 2


async def test_failed_trial_reopens_the_breaker(
    make: EngineFactory, fake: FakeOpenAI, clock: Clock
) -> None:
    """L3: A trial that meets the storm again opens the breaker for another open time; the server
    sees only the trial's requests."""
    fake.default = Reply("server_error", retry_after=None)
    engine = make()
    await storm(engine, FAILURES)
    seen = len(fake.requests)

    clock.now += OPEN_S
    (trial,) = await storm(engine, 1)
    assert len(fake.requests) == seen + 2  # the trial and its one bounded retry
    assert engine.breaker.state is BreakerState.OPEN
    assert trial.retry_after_s == pytest.approx(OPEN_S)
    await storm(engine, 3)
    assert len(fake.requests) == seen + 2


async def test_open_breaker_falls_back_offline_when_allowed(
    make: EngineFactory, fake: FakeOpenAI
) -> None:
    """L3: With offline fallback on, a call the breaker refuses gives the offline result, marked
    ``circuit_open``, without touching the provider."""
    fake.default = Reply("rate_limited", retry_after="0")
    engine = make(fallback_to_offline=True)
    for _ in range(FAILURES):
        resume = await engine.parse_resume(PLAIN_RESUME)
        assert resume.meta is not None
        assert resume.meta.fallback_reason == "rate_limited"
    seen = len(fake.requests)

    resume = await engine.parse_resume(PLAIN_RESUME)

    assert resume.meta is not None
    assert resume.meta.fallback_reason == "circuit_open"
    assert resume.contact.email == "jane.doe@example.com"  # the offline reading
    assert len(fake.requests) == seen


async def test_invalid_answers_do_not_open_the_breaker(
    make: EngineFactory, fake: FakeOpenAI
) -> None:
    """L3: A provider that answers, however badly, is up: invalid JSON is L1's business, not a
    reason to stop calling."""
    fake.default = Reply("invalid_json")
    engine = make(fallback_to_offline=True)
    for _ in range(FAILURES + 2):
        await engine.parse_resume(PLAIN_RESUME)
    assert engine.breaker.state is BreakerState.CLOSED
    assert len(fake.requests) == (FAILURES + 2) * 2


async def test_meter_counts_the_usage_the_provider_reports(
    make: EngineFactory, fake: FakeOpenAI
) -> None:
    """L5: the tokens the server reports for each answer land on the job's meter, the paid-for
    invalid answer included."""
    fake.script(Reply("invalid_json", usage=(700, 20)), Reply("normal", usage=(710, 150)))
    meter = TokenMeter(remaining=10_000)

    await make().parse_resume(PLAIN_RESUME, meter=meter)

    assert (meter.input_tokens, meter.output_tokens) == (1410, 170)


async def test_meter_estimates_when_the_provider_reports_nothing(
    make: EngineFactory, fake: FakeOpenAI
) -> None:
    """L5: an endpoint that reports no usage is still counted (an estimate from the text), so a
    local server cannot make the allowance unlimited."""
    meter = TokenMeter(remaining=100_000)

    await make().parse_resume(PLAIN_RESUME, meter=meter)

    assert meter.input_tokens > len(PLAIN_RESUME) // 5
    assert meter.output_tokens > 0


async def test_request_that_would_go_over_the_allowance_is_not_sent(
    make: EngineFactory, fake: FakeOpenAI
) -> None:
    """L5: a prompt larger than what the user has left fails ``over_budget`` before any request,
    and does not take the breaker's trial slot."""
    engine = make()

    with pytest.raises(OverBudget) as caught:
        await engine.parse_resume(PLAIN_RESUME, meter=TokenMeter(remaining=10))

    assert caught.value.kind is ErrorKind.OVER_BUDGET
    assert fake.requests == []
    assert engine.breaker.admit()
