"""L3 and L5 end to end: the whole product (HTTP, workers, SQLite job system) against a loopback
OpenAI-compatible server, or offline for the budget's HTTP gate."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.ai.usage import TokenMeter
from app.settings import Settings
from tests.conftest import LiveApp
from tests.fixtures.ai_samples import PLAIN_RESUME
from tests.fixtures.openai_server import FakeOpenAI, Reply, running_fake_openai

TERMINAL = {"completed", "failed", "cancelled"}
DAY_S = 24 * 3600


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with running_fake_openai() as server:
        yield server


def with_model(
    fake: FakeOpenAI, make_settings: Callable[..., Settings], **overrides: Any
) -> Settings:
    return make_settings(
        openai_base_url=fake.base_url,
        openai_api_key="sk-test-guard-0000",
        ai_model="local-test-model",
        **overrides,
    )


async def parse(client: httpx.AsyncClient, variant: int = 0) -> httpx.Response:
    """Submit a parse job; ``variant`` makes the file differ, so jobs are not deduplicated."""
    text = PLAIN_RESUME + "\n" * variant
    return await client.put(
        "/api/parse", files={"file": ("resume.txt", text.encode(), "text/plain")}
    )


async def finished(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    with anyio.fail_after(60):
        while (job := (await client.get(f"/api/jobs/{job_id}")).json())["status"] not in TERMINAL:
            await anyio.sleep(0.05)
    return dict(job)


async def breaker_gauge(client: httpx.AsyncClient) -> float:
    text = (await client.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "atspro_llm_breaker_state":
                return float(sample.value)
    raise AssertionError("atspro_llm_breaker_state is not exported")


async def test_storm_opens_the_breaker_and_jobs_fail_llm_unavailable(
    fake: FakeOpenAI,
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], AsyncIterator[LiveApp]],
) -> None:
    """L3: a 429 storm opens the breaker; a job whose retries are spent fails
    ``llm_unavailable``, the next job fails the same way without the provider seeing a request,
    and the breaker shows in /metrics and /readyz while readiness stays 200."""
    fake.default = Reply("rate_limited", retry_after="0")
    settings = with_model(
        fake,
        make_settings,
        ai_fallback_to_offline=False,
        llm_breaker_failures=1,
        llm_breaker_open_s=600.0,
        max_retries=0,
        # Readiness must not follow the breaker; the loop-lag check (a loaded CI machine) is
        # not what this test is about.
        ready_max_loop_lag_ms=600_000.0,
    )
    async for live in serve(settings):
        async with await live.user("storm@example.com") as client:
            first = await finished(client, (await parse(client, 1)).json()["id"])
            seen = len(fake.requests)
            second = await finished(client, (await parse(client, 2)).json()["id"])
            gauge = await breaker_gauge(client)
            ready = await client.get("/readyz")

    assert first["status"] == "failed", first
    assert first["errorKind"] == "llm_unavailable"
    assert "Try again later" in first["errorMessage"]
    assert seen == 3  # one call: the first request and its two bounded retries
    assert second["status"] == "failed", second
    assert second["errorKind"] == "llm_unavailable"
    assert "paused" in second["errorMessage"]
    assert len(fake.requests) == seen, "a job reached the provider while the breaker was open"
    assert gauge == 2.0
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["llm"]["breaker"] == "open"
    assert ready.json()["checks"]["llm"]["retryAfterS"] > 500


async def test_job_waits_out_the_breaker_and_completes_when_the_provider_recovers(
    fake: FakeOpenAI,
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], AsyncIterator[LiveApp]],
) -> None:
    """L3: the call that opens the breaker hands the job system the time until half-open; the
    job's retry after it is the single trial call, which finds the provider recovered: the job
    completes with the model's answer and the breaker closes."""
    fake.script(*[Reply("rate_limited", retry_after="0")] * 3)
    settings = with_model(
        fake,
        make_settings,
        ai_fallback_to_offline=False,
        llm_breaker_failures=1,
        llm_breaker_open_s=1.0,
        max_retries=3,
    )
    async for live in serve(settings):
        async with await live.user("recover@example.com") as client:
            job = await finished(client, (await parse(client)).json()["id"])
            ready = (await client.get("/readyz")).json()
            gauge = await breaker_gauge(client)

    assert job["status"] == "completed", job
    assert job["resultData"]["resume"]["meta"]["engine"] == "agents"
    assert job["retryCount"] >= 1
    assert len(fake.requests) == 4  # the storm's three, then exactly one trial
    assert ready["checks"]["llm"]["breaker"] == "closed"
    assert gauge == 0.0


async def test_over_budget_user_gets_429_until_utc_midnight_and_others_do_not(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> None:
    """L5: a user who has used the day's allowance gets 429, a clear JSON problem and
    Retry-After up to the next UTC midnight for every AI operation; non-AI jobs still run, and
    another user is not affected."""
    async for live in serve(make_settings(user_daily_tokens=1000)):
        container = live.container
        spender, spender_token = await container.auth.create_user("spender@example.com")
        _other, other_token = await container.auth.create_user("other@example.com")
        spent = TokenMeter()
        spent.add(900, 200)
        await container.jobs.budget.record(spender.id, spent)
        base = {"base_url": live.base_url, "timeout": 30}
        async with (
            httpx.AsyncClient(headers={"Authorization": f"Bearer {spender_token}"}, **base) as a,
            httpx.AsyncClient(headers={"Authorization": f"Bearer {other_token}"}, **base) as b,
        ):
            refused = await parse(a)
            extract = await a.put("/api/job", json={"url": "https://example.com/jobs/1"})
            echo = await a.post(
                "/api/jobs", json={"jobType": "diagnostic.echo", "inputData": {"echo": "hi"}}
            )
            accepted = await parse(b)
            uploads_left = await container.db.read(
                lambda c: c.exec_driver_sql("SELECT count(*) FROM uploads").scalar_one()
            )

    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert "allowance of 1000 tokens" in problem["detail"]
    assert "00:00 UTC" in problem["detail"]
    assert (problem["limit"], problem["used"]) == (1000, 1100)
    assert 1 <= int(refused.headers["retry-after"]) <= DAY_S
    assert extract.status_code == 429
    assert echo.status_code == 202, echo.text
    assert accepted.status_code == 202, accepted.text
    assert uploads_left == 1  # the refused upload was never stored


async def test_model_usage_is_counted_and_a_queued_job_over_budget_fails_fast(
    fake: FakeOpenAI,
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], AsyncIterator[LiveApp]],
) -> None:
    """L5: the tokens the provider reports move the user's daily count; a job queued while the
    user was under budget fails ``over_budget`` without calling the model and is not retried;
    the next submission, and the user's retry of that job, are refused."""
    fake.default = Reply("normal", usage=(900, 300))
    settings = with_model(
        fake, make_settings, user_daily_tokens=1000, max_running_per_user=1, max_retries=3
    )
    async for live in serve(settings):
        user, token = await live.container.auth.create_user("budget@example.com")
        async with httpx.AsyncClient(
            base_url=live.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client:
            submitted = [await parse(client, variant) for variant in (1, 2)]
            assert [response.status_code for response in submitted] == [202, 202]
            jobs = [await finished(client, response.json()["id"]) for response in submitted]
            used = await live.container.jobs.budget.used_today(user.id)
            third = await parse(client, 3)
            failed_ids = [job["id"] for job in jobs if job["status"] == "failed"]
            retried = [await client.post(f"/api/jobs/{job_id}/retry") for job_id in failed_ids]

    completed = [job for job in jobs if job["status"] == "completed"]
    stopped = [job for job in jobs if job["status"] == "failed"]
    assert len(completed) == 1, jobs
    assert len(stopped) == 1, jobs
    assert completed[0]["resultData"]["resume"]["meta"]["engine"] == "agents"
    assert stopped[0]["errorKind"] == "over_budget"
    assert stopped[0]["retryCount"] == 0
    assert "allowance" in stopped[0]["errorMessage"]
    assert len(fake.requests) == 1
    assert used == 1200
    assert third.status_code == 429
    assert [response.status_code for response in retried] == [429]  # no retry around it
