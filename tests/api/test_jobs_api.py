"""The jobs API end to end on a real server: submit, follow, cancel, retry, delete, isolate."""

from __future__ import annotations

import uuid
from typing import Any

import anyio
import httpx

from tests.conftest import LiveApp, read_sse

TERMINAL = {"completed", "failed", "cancelled"}


async def submit(client: httpx.AsyncClient, **input_data: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/jobs", json={"jobType": "diagnostic.echo", "inputData": input_data}
    )
    assert response.status_code == 202, response.text
    return response.json()


async def wait_for(client: httpx.AsyncClient, job_id: str, statuses: set[str]) -> dict[str, Any]:
    with anyio.fail_after(30):
        while True:
            job = (await client.get(f"/api/jobs/{job_id}")).json()
            if job["status"] in statuses:
                return job
            await anyio.sleep(0.05)


async def test_submitted_job_runs_to_completion_with_its_result(live: LiveApp) -> None:
    """A diagnostic job is accepted with 202 and completes with its echo as the result."""
    async with await live.user("a@example.com") as client:
        job = await submit(client, echo={"hello": "world"})
        assert job["status"] == "pending"
        assert job["jobType"] == "diagnostic.echo"
        done = await wait_for(client, job["id"], TERMINAL)
    assert done["status"] == "completed"
    assert done["resultData"]["echo"] == {"hello": "world"}
    assert done["progress"] == 100
    assert done["attempt"] == 1
    assert done["startedAt"]
    assert done["completedAt"]


async def test_sse_follows_a_job_from_pending_to_completed(live: LiveApp) -> None:
    """The per-job stream sends the state, then started, progress and completed, then ends."""
    async with await live.user("sse@example.com") as client:
        job = await submit(client, seconds=0.6, steps=3)
        async with client.stream("GET", "/api/jobs/events", params={"job_id": job["id"]}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            messages = [m async for m in read_sse(r)]
    kinds = [m["data"]["eventType"] for m in messages]
    assert kinds[0] == "snapshot"
    first_status = messages[0]["data"]["job"]["status"]
    assert first_status in {"pending", "running"}
    if first_status == "pending":
        assert "started" in kinds
    assert kinds.count("progress") >= 1
    assert kinds[-1] == "completed"
    assert all(m["event"] == "job" for m in messages)
    ids = [int(m["id"]) for m in messages[1:]]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert messages[-1]["data"]["job"]["status"] == "completed"
    progress = [
        m["data"]["job"]["progress"] for m in messages if m["data"]["eventType"] == "progress"
    ]
    assert progress == sorted(progress)


async def test_last_event_id_replays_what_was_missed(live: LiveApp) -> None:
    """E3: Reconnecting with Last-Event-ID replays exactly the events after it, in order."""
    async with await live.user("replay@example.com") as client:
        job = await submit(client, seconds=0.2, steps=2)
        await wait_for(client, job["id"], TERMINAL)
        async with client.stream("GET", "/api/jobs/events", params={"job_id": job["id"]}) as r:
            [snapshot] = [m async for m in read_sse(r)]
        assert snapshot["data"]["job"]["status"] == "completed"
        async with client.stream(
            "GET", "/api/jobs/events", params={"job_id": job["id"]}, headers={"Last-Event-ID": "0"}
        ) as r:
            replay = [m async for m in read_sse(r)]
        kinds = [m["data"]["eventType"] for m in replay]
        assert kinds[0] == "created"
        assert kinds[-1] == "completed"
        middle = replay[1]["id"]
        async with client.stream(
            "GET",
            "/api/jobs/events",
            params={"job_id": job["id"]},
            headers={"Last-Event-ID": middle},
        ) as r:
            rest = [m async for m in read_sse(r)]
        assert [m["id"] for m in rest] == [m["id"] for m in replay[2:]]


async def test_user_stream_sends_active_jobs_then_changes(live: LiveApp) -> None:
    """The user-wide stream starts with the caller's active jobs, then streams their changes."""
    async with await live.user("dash@example.com") as client:
        first = await submit(client, seconds=1.0, steps=2)
        seen: list[dict[str, Any]] = []
        async with client.stream("GET", "/api/jobs/events") as r:
            second = await submit(client, echo=2)
            async for message in read_sse(
                r,
                until=lambda m: (
                    m["data"]["job"]["id"] == second["id"] and m["data"]["eventType"] == "completed"
                ),
            ):
                seen.append(message)
    assert seen[0]["data"]["eventType"] == "snapshot"
    assert seen[0]["data"]["job"]["id"] == first["id"]
    assert {m["data"]["job"]["id"] for m in seen} <= {first["id"], second["id"]}


async def test_cancel_running_job_stops_it(live: LiveApp) -> None:
    """R11: Cancelling a running job ends it as cancelled within a second and it never completes."""
    async with await live.user("cancel@example.com") as client:
        job = await submit(client, seconds=30, steps=30)
        await wait_for(client, job["id"], {"running"})
        response = await client.post(f"/api/jobs/{job['id']}/cancel")
        assert response.status_code == 200
        assert response.json()["status"] == "cancelled"
        await anyio.sleep(1.5)
        final = (await client.get(f"/api/jobs/{job['id']}")).json()
        assert final["status"] == "cancelled"
        assert final["resultData"] is None
        assert len(live.container.jobs.running) == 0
        again = await client.post(f"/api/jobs/{job['id']}/cancel")
        assert again.status_code == 409
        assert again.headers["content-type"].startswith("application/problem+json")


async def test_cancel_pending_job_never_runs(live: LiveApp) -> None:
    """R11: A job cancelled while pending is removed from the queue and never starts."""
    async with await live.user("pending@example.com") as client:
        # Fill the low queue's slots so the next low-priority job waits.
        blockers = []
        for _ in range(live.container.settings.concurrency_low):
            response = await client.post(
                "/api/jobs",
                json={"jobType": "diagnostic.echo", "inputData": {"seconds": 3}, "priority": 10},
            )
            blockers.append(response.json())
        response = await client.post(
            "/api/jobs", json={"jobType": "diagnostic.echo", "inputData": {}, "priority": 10}
        )
        waiting = response.json()
        await anyio.sleep(0.3)
        assert (await client.get(f"/api/jobs/{waiting['id']}")).json()["status"] == "pending"
        cancelled = await client.post(f"/api/jobs/{waiting['id']}/cancel")
        assert cancelled.json()["status"] == "cancelled"
        for blocker in blockers:
            await wait_for(client, blocker["id"], TERMINAL)
        final = (await client.get(f"/api/jobs/{waiting['id']}")).json()
        assert final["status"] == "cancelled"
        assert final["startedAt"] is None


async def test_transient_failures_retry_then_succeed(live: LiveApp) -> None:
    """R13: A job whose first two attempts fail transiently is retried with backoff and
    completes."""
    async with await live.user("retry@example.com") as client:
        job = await submit(client, failTimes=2, failKind="transient")
        done = await wait_for(client, job["id"], TERMINAL)
    assert done["status"] == "completed"
    assert done["retryCount"] == 2
    assert done["attempt"] == 3


async def test_failed_job_can_be_retried_by_hand_and_deleted(live: LiveApp) -> None:
    """R13: A user-fixable failure fails at once; a manual retry runs again; delete removes it."""
    async with await live.user("manual@example.com") as client:
        job = await submit(client, failTimes=1, failKind="user")
        failed = await wait_for(client, job["id"], TERMINAL)
        assert failed["status"] == "failed"
        assert failed["errorKind"] == "user"
        assert failed["retryCount"] == 0
        assert "diagnostic failure" in failed["errorMessage"]
        retried = await client.post(f"/api/jobs/{job['id']}/retry")
        assert retried.status_code == 202
        assert retried.json()["status"] == "pending"
        done = await wait_for(client, job["id"], TERMINAL)
        assert done["status"] == "completed"
        assert done["attempt"] == 2
        assert (await client.delete(f"/api/jobs/{job['id']}")).status_code == 204
        assert (await client.get(f"/api/jobs/{job['id']}")).status_code == 404


async def test_internal_errors_hide_the_traceback(live: LiveApp) -> None:
    """An internal error fails the job with a generic message; the traceback stays server-side."""
    async with await live.user("internal@example.com") as client:
        job = await submit(client, failTimes=5, failKind="internal")
        failed = await wait_for(client, job["id"], TERMINAL)
    assert failed["status"] == "failed"
    assert failed["errorKind"] == "internal"
    assert "Traceback" not in failed["errorMessage"]
    assert "errorDetail" not in failed


async def test_exhausted_transient_retries_fail(live: LiveApp) -> None:
    """R13: A job that keeps failing transiently fails after max retries."""
    async with await live.user("exhaust@example.com") as client:
        response = await client.post(
            "/api/jobs",
            json={
                "jobType": "diagnostic.echo",
                "inputData": {"failTimes": 10},
                "maxRetries": 2,
            },
        )
        failed = await wait_for(client, response.json()["id"], TERMINAL)
    assert failed["status"] == "failed"
    assert failed["errorKind"] == "transient"
    assert failed["retryCount"] == 2
    assert failed["attempt"] == 3


async def test_deleting_an_unfinished_job_is_a_conflict(live: LiveApp) -> None:
    """R11: DELETE of a pending or running job answers 409 and leaves it alone."""
    async with await live.user("del@example.com") as client:
        job = await submit(client, seconds=2)
        response = await client.delete(f"/api/jobs/{job['id']}")
        assert response.status_code == 409
        await client.post(f"/api/jobs/{job['id']}/cancel")


async def test_other_users_jobs_are_invisible(live: LiveApp) -> None:
    """A1/A2: Another user's job id is a 404 on every route, the event stream included."""
    async with (
        await live.user("owner@example.com") as owner,
        await live.user("other@example.com") as other,
    ):
        job = await submit(owner, seconds=0.5)
        missing = str(uuid.uuid4())
        for job_id in (job["id"], missing):
            assert (await other.get(f"/api/jobs/{job_id}")).status_code == 404
            assert (await other.post(f"/api/jobs/{job_id}/cancel")).status_code == 404
            assert (await other.post(f"/api/jobs/{job_id}/retry")).status_code == 404
            assert (await other.delete(f"/api/jobs/{job_id}")).status_code == 404
            events = await other.get("/api/jobs/events", params={"job_id": job_id})
            assert events.status_code == 404
        listing = (await other.get("/api/jobs", params={"userId": job["userId"]})).json()
        assert listing["items"] == []
        done = await wait_for(owner, job["id"], TERMINAL)
        assert done["status"] == "completed"


async def test_requests_need_a_valid_token(live: LiveApp) -> None:
    """A4: No token or a wrong token is a 401 with a problem body; health stays open."""
    async with httpx.AsyncClient(base_url=live.base_url) as anonymous:
        assert (await anonymous.get("/api/jobs")).status_code == 401
        assert (await anonymous.get("/api/jobs/events")).status_code == 401
        wrong = await anonymous.get("/api/jobs", headers={"Authorization": "Bearer atp_nope"})
        assert wrong.status_code == 401
        assert (await anonymous.get("/healthz")).json() == {"status": "ok"}
        ready = await anonymous.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["worker:default"]["alive"] is True


async def test_bad_input_is_a_clear_422(live: LiveApp) -> None:
    """Unknown job types, invalid input, extra fields and bad ids are 422s naming the field."""
    async with await live.user("bad@example.com") as client:
        unknown = await client.post("/api/jobs", json={"jobType": "nope", "inputData": {}})
        assert unknown.status_code == 422
        assert "unknown job type" in unknown.json()["detail"]
        invalid = await client.post(
            "/api/jobs", json={"jobType": "diagnostic.echo", "inputData": {"seconds": -1}}
        )
        assert invalid.status_code == 422
        assert invalid.json()["field"] == "inputData"
        smuggled = await client.post(
            "/api/jobs",
            json={"jobType": "diagnostic.echo", "inputData": {}, "status": "completed"},
        )
        assert smuggled.status_code == 422
        priority = await client.post(
            "/api/jobs", json={"jobType": "diagnostic.echo", "inputData": {}, "priority": 11}
        )
        assert priority.status_code == 422
        assert priority.json()["field"] == "priority"
        assert (await client.get("/api/jobs/not-a-uuid")).status_code == 422
        assert (await client.get("/api/jobs", params={"cursor": "!!"})).status_code == 422


async def test_list_filters_and_paginates_newest_first(live: LiveApp) -> None:
    """The list is newest first, filtered by status and type, and pages with a cursor."""
    async with await live.user("list@example.com") as client:
        ids = [(await submit(client, echo=i))["id"] for i in range(5)]
        for job_id in ids:
            await wait_for(client, job_id, TERMINAL)
        page = (await client.get("/api/jobs", params={"limit": 2})).json()
        seen = [job["id"] for job in page["items"]]
        while page["nextCursor"]:
            page = (
                await client.get("/api/jobs", params={"limit": 2, "cursor": page["nextCursor"]})
            ).json()
            seen += [job["id"] for job in page["items"]]
        assert seen == list(reversed(ids))
        completed = (await client.get("/api/jobs", params={"status": "completed"})).json()
        assert len(completed["items"]) == 5
        running = (await client.get("/api/jobs", params={"status": "running"})).json()
        assert running["items"] == []
        by_type = (await client.get("/api/jobs", params={"jobType": "other"})).json()
        assert by_type["items"] == []
