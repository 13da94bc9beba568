"""The dead-letter console and audit log: admins list, inspect, retry and discard failed jobs
of every user; everyone else is kept out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from app.models import JobAttempt, JobEvent
from tests.conftest import LiveApp
from tests.fixtures.accounts import browser
from tests.fixtures.dead_letters import assert_problem, failed, submit, wait_for


async def everything(admin: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    """Every item of the console listing, following cursors one item at a time."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 1} | ({"cursor": cursor} if cursor else {})
        page = await admin.get("/api/admin/jobs", params=query)
        assert page.status_code == 200, page.text
        body = page.json()
        items += body["items"]
        cursor = body["nextCursor"]
        if cursor is None:
            return items


async def audit(admin: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await admin.get("/api/admin/audit", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_failed_jobs_of_every_user_are_listed_and_filtered(live: LiveApp) -> None:
    """Failed jobs of all users appear with their owner; jobType, errorKind, time ranges and
    text narrow the list; cursor paging walks it newest first."""
    async with (
        await live.user("ops@example.com", admin=True) as admin,
        await live.user("ann@example.com") as ann,
        await live.user("bob@example.com") as bob,
    ):
        user_failure = await failed(ann, "user")
        transient_failure = await failed(ann, "transient")
        internal_failure = await failed(bob, "internal")
        done = await wait_for(bob, await submit(bob, echo="fine"))
        assert done["status"] == "completed"

        listed = await everything(admin)
        assert [item["id"] for item in listed] == [
            internal_failure["id"],
            transient_failure["id"],
            user_failure["id"],
        ]
        owners = {item["id"]: item["ownerEmail"] for item in listed}
        assert owners[internal_failure["id"]] == "bob@example.com"
        assert owners[user_failure["id"]] == "ann@example.com"

        by_kind = await everything(admin, errorKind=["user", "internal"])
        assert {item["id"] for item in by_kind} == {user_failure["id"], internal_failure["id"]}
        by_text = await everything(admin, q="DIAGNOSTIC failure")  # case-insensitive
        assert {item["id"] for item in by_text} == {user_failure["id"], transient_failure["id"]}
        assert await everything(admin, q="%") == []  # wildcards are literal
        assert await everything(admin, jobType="resume.parse") == []
        assert len(await everything(admin, jobType="diagnostic.echo")) == 3

        first_failed = datetime.fromisoformat(user_failure["completedAt"])
        later = await everything(admin, failedAfter=first_failed.isoformat())
        assert user_failure["id"] not in {item["id"] for item in later}
        assert len(later) == 2
        future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        assert await everything(admin, createdAfter=future) == []
        assert len(await everything(admin, createdBefore=future)) == 3
        with_completed = await everything(admin, status=["completed"])
        assert [item["id"] for item in with_completed] == [done["id"]]


async def test_inspect_shows_input_owner_attempts_and_tracebacks(live: LiveApp) -> None:
    """One job's inspection has its input, owner, each attempt's outcome, error and traceback;
    the owner sees the same attempts without tracebacks or worker ids."""
    async with (
        await live.user("ops@example.com", admin=True) as admin,
        await live.user("ann@example.com") as ann,
    ):
        job_id = await submit(ann, max_retries=1, failTimes=2, failKind="transient", echo="x")
        assert (await wait_for(ann, job_id))["status"] == "failed"

        response = await admin.get(f"/api/admin/jobs/{job_id}")
        assert response.status_code == 200, response.text
        found = response.json()
        owner_view = (await ann.get(f"/api/jobs/{job_id}")).json()

    assert found["job"]["ownerEmail"] == "ann@example.com"
    assert found["job"]["inputData"]["echo"] == "x"
    assert "TransientError" in found["traceback"]
    attempts = found["attempts"]
    assert [a["attempt"] for a in attempts] == [1, 2]
    assert [a["outcome"] for a in attempts] == ["retry_scheduled", "failed"]
    assert [a["errorMessage"] for a in attempts] == [
        "diagnostic failure 1 of 2",
        "diagnostic failure 2 of 2",
    ]
    assert all(a["errorKind"] == "transient" for a in attempts)
    assert all("TransientError" in a["traceback"] for a in attempts)
    assert all(a["workerId"].endswith("/default") for a in attempts)
    assert all(a["finishedAt"] >= a["startedAt"] for a in attempts)

    assert [a["outcome"] for a in owner_view["attempts"]] == ["retry_scheduled", "failed"]
    assert all("traceback" not in a and "workerId" not in a for a in owner_view["attempts"])


async def test_retrying_one_job_reruns_it_and_is_audited(live: LiveApp) -> None:
    """An admin's retry of another user's failed job runs it again (a new attempt) and leaves
    an audit entry naming the admin, the action and the job."""
    async with (
        await live.user("ops@example.com", admin=True) as admin,
        await live.user("ann@example.com") as ann,
    ):
        job = await failed(ann, "user")
        response = await admin.post(f"/api/admin/jobs/{job['id']}/retry")
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "pending"
        done = await wait_for(ann, job["id"], {"completed"})
        assert done["attempt"] == 2
        assert [a["outcome"] for a in done["attempts"]] == ["failed", "completed"]
        again = await admin.post(f"/api/admin/jobs/{job['id']}/retry")
        assert_problem(again, 409)  # a completed job is not retried
        assert_problem(await admin.post(f"/api/admin/jobs/{uuid.uuid4()}/retry"), 404)
        [entry] = await audit(admin, action="job.retry")
    assert entry["adminEmail"] == "ops@example.com"
    assert entry["target"] == job["id"]
    assert entry["detail"] == {"via": "console"}


async def test_retry_matching_retries_only_the_filtered_jobs(live: LiveApp) -> None:
    """Retry-all with a filter puts back exactly the failed jobs it selects and returns their
    count; the audit entry keeps the filter and the count."""
    async with (
        await live.user("ops@example.com", admin=True) as admin,
        await live.user("ann@example.com") as ann,
        await live.user("bob@example.com") as bob,
    ):
        users = [await failed(ann, "user", echo=1), await failed(bob, "user", echo=2)]
        internal = await failed(bob, "internal")
        response = await admin.post("/api/admin/jobs/retry", json={"errorKind": ["user"]})
        assert response.status_code == 200, response.text
        assert response.json() == {"count": 2}
        for owner, job in zip((ann, bob), users, strict=True):
            assert (await wait_for(owner, job["id"], {"completed"}))["attempt"] == 2
        assert (await bob.get(f"/api/jobs/{internal['id']}")).json()["status"] == "failed"
        nothing = await admin.post("/api/admin/jobs/retry", json={"q": "no such text"})
        assert nothing.json() == {"count": 0}
        entries = await audit(admin, action="job.retry_matching")
    assert [entry["detail"]["count"] for entry in entries] == [0, 2]
    assert entries[1]["detail"]["filter"] == {"status": ["failed"], "errorKind": ["user"]}


async def test_discard_deletes_the_job_its_events_attempts_and_queue_entry(live: LiveApp) -> None:
    """Discarding a failed job removes every trace of it; an unfinished job cannot be."""
    async with (
        await live.user("ops@example.com", admin=True) as admin,
        await live.user("ann@example.com") as ann,
    ):
        job = await failed(ann, "internal")
        queue = live.container.queues["default"]  # priority 5
        assert await queue.job(job["id"]) is not None
        slow = await submit(ann, seconds=30)

        assert (await admin.delete(f"/api/admin/jobs/{job['id']}")).status_code == 204
        assert_problem(await admin.get(f"/api/admin/jobs/{job['id']}"), 404)
        assert_problem(await ann.get(f"/api/jobs/{job['id']}"), 404)
        assert await queue.job(job["id"]) is None
        left = await live.container.db.read(
            lambda c: [
                c.execute(
                    select(func.count()).where(table.job_id == uuid.UUID(job["id"]))
                ).scalar_one()
                for table in (JobEvent, JobAttempt)
            ]
        )
        assert left == [0, 0]

        body = assert_problem(await admin.delete(f"/api/admin/jobs/{slow}"), 409)
        assert "cancel it first" in body["detail"]
        assert (await ann.post(f"/api/jobs/{slow}/cancel")).status_code == 200
        [entry] = await audit(admin, action="job.discard")
    assert entry["target"] == job["id"]
    assert entry["detail"]["status"] == "failed"


async def test_non_admins_get_403_and_anonymous_callers_401(live: LiveApp) -> None:
    """Every admin endpoint is a 403 problem for a signed-in user who is not an admin (their
    own job included) and a 401 without credentials; nothing changes."""
    async with (
        await live.user("ann@example.com") as ann,
        browser(live) as anonymous,
    ):
        job = await failed(ann, "user")
        calls = [
            ("GET", "/api/admin/jobs", None),
            ("GET", f"/api/admin/jobs/{job['id']}", None),
            ("POST", f"/api/admin/jobs/{job['id']}/retry", None),
            ("POST", "/api/admin/jobs/retry", {}),
            ("DELETE", f"/api/admin/jobs/{job['id']}", None),
            ("GET", "/api/admin/audit", None),
            ("GET", "/api/admin/analytics", None),
        ]
        for method, path, body in calls:
            assert_problem(await ann.request(method, path, json=body), 403)
            assert_problem(await anonymous.request(method, path, json=body), 401)
        assert (await ann.get(f"/api/jobs/{job['id']}")).json()["status"] == "failed"


async def test_bad_filters_are_422_problems(live: LiveApp) -> None:
    """Unknown error kinds, bad dates, empty ranges, bad cursors and unknown fields are 422
    problems naming what is wrong."""
    async with await live.user("ops@example.com", admin=True) as admin:
        cases: list[tuple[str, str, dict[str, Any] | None, str]] = [
            ("GET", "/api/admin/jobs?errorKind=bogus", None, "errorKind"),
            ("GET", "/api/admin/jobs?createdAfter=yesterday", None, "createdAfter"),
            ("GET", "/api/admin/jobs?limit=0", None, "limit"),
            ("GET", "/api/admin/jobs?cursor=nonsense", None, "cursor"),
            ("GET", "/api/admin/jobs?status=exploded", None, "status"),
            (
                "GET",
                "/api/admin/jobs?failedAfter=2026-01-02T00:00:00Z&failedBefore=2026-01-01T00:00:00Z",
                None,
                "failedAfter",
            ),
            ("POST", "/api/admin/jobs/retry", {"userId": str(uuid.uuid4())}, "userId"),
            ("POST", "/api/admin/jobs/retry", {"errorKind": ["nope"]}, "errorKind"),
            ("GET", "/api/admin/audit?cursor=abc", None, "cursor"),
            ("GET", "/api/admin/analytics?days=0", None, "days"),
        ]
        for method, path, body, field in cases:
            problem = assert_problem(await admin.request(method, path, json=body), 422)
            assert field in (problem.get("field") or "") + problem["detail"], (path, problem)
