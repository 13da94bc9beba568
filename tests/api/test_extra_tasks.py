"""Job types added through ATSPRO_EXTRA_TASKS run like the built-in ones."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import anyio

from app.settings import Settings
from tests.conftest import LiveApp


async def test_extra_task_module_is_registered_and_runs(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> None:
    """A TaskSpec named in extra_tasks can be submitted directly and completes."""
    settings = make_settings(extra_tasks=["tests.fixtures.custom_tasks:SPEC"])
    async for app in serve(settings):
        async with await app.user("extra@example.com") as client:
            response = await client.post(
                "/api/jobs", json={"jobType": "custom.shout", "inputData": {"text": "hi"}}
            )
            assert response.status_code == 202, response.text
            job_id = response.json()["id"]
            with anyio.fail_after(30):
                while (job := (await client.get(f"/api/jobs/{job_id}")).json())["status"] != (
                    "completed"
                ):
                    await anyio.sleep(0.05)
            assert job["resultData"] == {"text": "HI"}
