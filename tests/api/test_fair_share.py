"""Fair share: one user's flood cannot hold every worker (ATSPRO_MAX_RUNNING_PER_USER)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import anyio
import httpx

from app.settings import Settings
from tests.conftest import LiveApp

TERMINAL = {"completed", "failed", "cancelled"}


async def submit(client: httpx.AsyncClient, seconds: float) -> str:
    response = await client.post(
        "/api/jobs", json={"jobType": "diagnostic.echo", "inputData": {"seconds": seconds}}
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def finished(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    with anyio.fail_after(60):
        while (job := (await client.get(f"/api/jobs/{job_id}")).json())["status"] not in TERMINAL:
            await anyio.sleep(0.05)
    return dict(job)


async def test_a_user_at_the_cap_waits_while_others_run(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> None:
    """A7: With a cap of 1, a flood's jobs run one at a time and another user's job starts at
    once."""
    async for live in serve(make_settings(max_running_per_user=1)):
        async with (
            await live.user("flood@example.com") as flood,
            await live.user("other@example.com") as other,
        ):
            flood_ids = [await submit(flood, 0.6) for _ in range(3)]
            await anyio.sleep(0.2)
            other_id = await submit(other, 0.1)
            other_job = await finished(other, other_id)
            flood_jobs = [await finished(flood, job_id) for job_id in flood_ids]
    assert other_job["status"] == "completed"
    assert all(job["status"] == "completed" for job in flood_jobs)
    assert all(job["retryCount"] == 0 for job in flood_jobs)
    # The other user's job was not stuck behind the flood.
    assert _at(other_job["completedAt"]) < max(_at(job["completedAt"]) for job in flood_jobs)
    # The flood's jobs never overlapped.
    spans = sorted((_at(job["startedAt"]), _at(job["completedAt"])) for job in flood_jobs)
    for (_, first_end), (second_start, _) in itertools.pairwise(spans):
        assert second_start >= first_end


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)
