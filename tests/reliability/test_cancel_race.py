"""R11: a cancel racing the job's own completion, a hundred times, at every point of its short
life. Whoever wins, the job ends once: cancelled without a result, or completed with it."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpx

from app.settings import Settings
from tests.conftest import LiveApp, read_sse

RACES = 100
TERMINAL = {"completed", "failed", "cancelled"}


async def race(client: httpx.AsyncClient, n: int, outcomes: dict[str, int]) -> None:
    seconds = random.choice([0.0, 0.02, 0.05, 0.1])
    job = (
        await client.post(
            "/api/jobs",
            json={"jobType": "diagnostic.echo", "inputData": {"seconds": seconds, "echo": n}},
        )
    ).json()
    await anyio.sleep(random.uniform(0, 0.15))
    cancel = await client.post(f"/api/jobs/{job['id']}/cancel")
    assert cancel.status_code in {200, 409}, cancel.text

    # The job's whole event log, replayed from the start; the stream ends at its terminal event.
    events: list[dict[str, Any]] = []
    with anyio.fail_after(30):
        async with client.stream(
            "GET", "/api/jobs/events", params={"job_id": job["id"]}, headers={"Last-Event-ID": "0"}
        ) as stream:
            async for message in read_sse(stream):
                events.append(message["data"])
    kinds = [event["eventType"] for event in events]
    assert [kind for kind in kinds if kind in TERMINAL] == [kinds[-1]], kinds
    final = (await client.get(f"/api/jobs/{job['id']}")).json()
    assert final["status"] == kinds[-1]
    if cancel.status_code == 200:
        assert final["status"] == "cancelled"
        assert final["resultData"] is None
    else:
        assert final["status"] == "completed"
        assert final["resultData"]["echo"] == n
    outcomes[final["status"]] += 1


async def test_cancel_racing_completion_ends_each_job_once(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> None:
    """R11: 100 jobs of 0-100 ms, each cancelled 0-150 ms after submission (ten at a time): an
    accepted cancel (200) always ends the job cancelled with no result, a refused one (409) only
    ever meets a completed job with its result, and each job's event log holds exactly one
    terminal event, its last. Both outcomes occur, so the race was really run."""
    outcomes = {"cancelled": 0, "completed": 0}
    async for live in serve(make_settings(rate_limit_submit="off")):
        async with await live.user("race@example.com") as client:
            for first in range(0, RACES, 10):
                async with anyio.create_task_group() as tasks:
                    for n in range(first, first + 10):
                        tasks.start_soon(race, client, n, outcomes)
    assert sum(outcomes.values()) == RACES
    assert outcomes["cancelled"] > 0
    assert outcomes["completed"] > 0
