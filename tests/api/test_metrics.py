"""/metrics: Prometheus text of this process's counters, histograms and scrape-time gauges."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpx
from prometheus_client.parser import text_string_to_metric_families

from app.metrics import JOB_OUTCOMES
from app.settings import Settings
from tests.conftest import LiveApp

ECHO = "diagnostic.echo"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, keyed by name and labels (the parser rejects bad text)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def wait_for_status(client: httpx.AsyncClient, job_id: str, status: str) -> None:
    with anyio.fail_after(30):
        while (await client.get(f"/api/jobs/{job_id}")).json()["status"] != status:
            await anyio.sleep(0.05)


async def submit(client: httpx.AsyncClient, **input_data: Any) -> str:
    response = await client.post("/api/jobs", json={"jobType": ECHO, "inputData": input_data})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def test_counters_move_as_jobs_run(live: LiveApp) -> None:
    """Submitted, completed, failed, retried and cancelled counts, the duration and queue-wait
    histograms and the HTTP histogram (by route template) follow real jobs run through the API."""
    async with await live.user("metrics@example.com") as client:
        done = await submit(client, echo="a")
        flaky = await submit(client, failTimes=1, failKind="transient")
        broken = await submit(client, failTimes=5, failKind="user")
        slow = await submit(client, seconds=30, steps=30)
        await wait_for_status(client, done, "completed")
        await wait_for_status(client, flaky, "completed")
        await wait_for_status(client, broken, "failed")
        await wait_for_status(client, slow, "running")
        assert (await client.post(f"/api/jobs/{slow}/cancel")).status_code == 200

        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    assert value(found, "atspro_jobs_submitted_total", job_type=ECHO) == 4
    assert value(found, "atspro_jobs_completed_total", job_type=ECHO) == 2
    assert value(found, "atspro_jobs_failed_total", job_type=ECHO) == 1
    assert value(found, "atspro_jobs_retried_total", job_type=ECHO) == 1
    assert value(found, "atspro_jobs_cancelled_total", job_type=ECHO) == 1
    # The in-memory reading (what bench.peers polls) says what the exposition says.
    metrics = live.container.metrics
    counts = {outcome: metrics.count(outcome, ECHO) for outcome in JOB_OUTCOMES}
    assert counts == {"submitted": 4, "completed": 2, "failed": 1, "retried": 1, "cancelled": 1}
    assert metrics.count("completed", "no.such_type") == 0
    completed = {"job_type": ECHO, "status": "completed"}
    assert value(found, "atspro_job_duration_seconds_count", **completed) == 2
    assert value(found, "atspro_job_duration_seconds_count", job_type=ECHO, status="failed") == 1
    # One first attempt per job: the retry's second attempt is not a queue wait.
    assert value(found, "atspro_job_queue_wait_seconds_count", job_type=ECHO) == 4
    for queue in ("high", "default", "low"):
        assert ("atspro_queue_depth", frozenset({("queue", queue)})) in found
    assert value(found, "atspro_queue_depth", queue="default") == 0
    assert ("atspro_event_loop_lag_seconds", frozenset()) in found
    routes = {
        dict(labels)["route"] for name, labels in found if name.startswith("atspro_http_request")
    }
    assert {"/api/jobs", "/api/jobs/{job_id}", "/api/jobs/{job_id}/cancel"} <= routes
    assert not any(done in route for route in routes)  # templates, never raw paths


async def test_sse_clients_and_running_jobs_are_gauges(live: LiveApp) -> None:
    """An open event stream counts in atspro_sse_clients (and stops counting once closed); a
    running job counts in atspro_running_jobs."""
    async with await live.user("gauges@example.com") as client:
        job_id = await submit(client, seconds=30, steps=30)
        await wait_for_status(client, job_id, "running")
        async with client.stream("GET", "/api/jobs/events") as stream:
            lines = stream.aiter_lines()  # kept open: leaving a loop over it would end the stream
            while not (await anext(lines)).startswith("data:"):
                pass
            found = samples((await client.get("/metrics")).text)
            assert value(found, "atspro_sse_clients") == 1
            assert value(found, "atspro_running_jobs") == 1
        with anyio.fail_after(10):
            while value(samples((await client.get("/metrics")).text), "atspro_sse_clients"):
                await anyio.sleep(0.05)
        await client.post(f"/api/jobs/{job_id}/cancel")


async def test_token_protects_metrics(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> None:
    """With ATSPRO_METRICS_TOKEN set, /metrics needs that bearer token: none or another is 401."""
    async for app in serve(make_settings(metrics_token="scrape-secret-1234")):
        async with httpx.AsyncClient(base_url=app.base_url) as client:
            assert (await client.get("/metrics")).status_code == 401
            wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            assert wrong.headers["content-type"] == "application/problem+json"
            right = await client.get(
                "/metrics", headers={"Authorization": "Bearer scrape-secret-1234"}
            )
            assert right.status_code == 200
            assert samples(right.text)
