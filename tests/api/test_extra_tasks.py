"""Job types added through ATSPRO_EXTRA_TASKS run like the built-in ones, with their hooks."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import select

from app.jobs.store import associations
from app.settings import Settings
from tests.conftest import LiveApp


@pytest.fixture
async def extra(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> AsyncIterator[LiveApp]:
    tasks = ["tests.fixtures.custom_tasks:SPEC", "tests.fixtures.custom_tasks:NAP"]
    async for app in serve(make_settings(extra_tasks=tasks)):
        yield app


async def shout(client: httpx.AsyncClient, text: str, **more: Any) -> httpx.Response:
    return await client.post(
        "/api/jobs", json={"jobType": "custom.shout", "inputData": {"text": text, **more}}
    )


async def finished(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    with anyio.fail_after(30):
        while (job := (await client.get(f"/api/jobs/{job_id}")).json())["status"] == "pending" or (
            job["status"] == "running"
        ):
            await anyio.sleep(0.05)
    return dict(job)


async def test_extra_task_runs_and_records_what_it_made(extra: LiveApp) -> None:
    """A TaskSpec named in extra_tasks completes, and its record hook linked its entity."""
    async with await extra.user("extra@example.com") as client:
        response = await shout(client, "hi")
        assert response.status_code == 202, response.text
        job = await finished(client, response.json()["id"])
    assert job["status"] == "completed"
    assert job["resultData"]["text"] == "HI"
    query = select(associations).where(associations.c.job_id == uuid.UUID(job["id"]))
    [link] = await extra.container.db.read(lambda c: c.execute(query).all())
    assert link.entity_type == "shout"
    assert str(link.entity_id) == job["resultData"]["shout_id"]


async def test_identical_input_while_running_returns_the_same_job(extra: LiveApp) -> None:
    """R14: Submitting the same input while a job for it runs returns that job, not a second one."""
    async with await extra.user("dedupe@example.com") as client:
        first = (await shout(client, "same", seconds=1)).json()
        second = (await shout(client, "same", seconds=1)).json()
        other = (await shout(client, "different")).json()
        assert second["id"] == first["id"]
        assert other["id"] != first["id"]
        await finished(client, first["id"])
        third = (await shout(client, "same")).json()
        assert third["id"] != first["id"]  # the first one is finished: a new job


async def test_idempotency_key_returns_the_same_job(extra: LiveApp) -> None:
    """R14: A repeated Idempotency-Key returns the first job; another kind of job under it is a
    409."""
    async with await extra.user("idem@example.com") as client:
        body = {"jobType": "diagnostic.echo", "inputData": {"echo": 1}}
        headers = {"Idempotency-Key": "order-42"}
        first = await client.post("/api/jobs", json=body, headers=headers)
        again = await client.post("/api/jobs", json=body, headers=headers)
        assert first.status_code == again.status_code == 202
        assert again.json()["id"] == first.json()["id"]
        fresh = await client.post("/api/jobs", json=body, headers={"Idempotency-Key": "order-43"})
        assert fresh.json()["id"] != first.json()["id"]
        misuse = await client.post(
            "/api/jobs",
            json={"jobType": "custom.shout", "inputData": {"text": "x"}},
            headers=headers,
        )
        assert misuse.status_code == 409
    async with await extra.user("idem2@example.com") as stranger:
        theirs = await stranger.post("/api/jobs", json=body, headers=headers)
        assert theirs.json()["id"] != first.json()["id"]  # keys are per user


async def test_a_job_past_its_deadline_is_stopped_and_fails(extra: LiveApp) -> None:
    """A task still running at its deadline is cancelled and its job fails as timed out (no
    retries left); one within its deadline completes."""
    async with await extra.user("nap@example.com") as client:
        late = await client.post(
            "/api/jobs", json={"jobType": "custom.nap", "inputData": {"seconds": 30}}
        )
        quick = await client.post(
            "/api/jobs", json={"jobType": "custom.nap", "inputData": {"seconds": 0.1}}
        )
        late_job = await finished(client, late.json()["id"])
        quick_job = await finished(client, quick.json()["id"])
    assert late_job["status"] == "failed"
    assert late_job["errorKind"] == "transient"
    assert late_job["errorMessage"] == "The job took too long and was stopped."
    assert quick_job["status"] == "completed"
