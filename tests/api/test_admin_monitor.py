"""SAQ's web monitor at /admin/queues: admins only, its pages, static files and JSON answer on
every backend, and its Abort and Retry buttons act on our job table."""

from __future__ import annotations

import base64
import hashlib
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
from sqlalchemy import select, update

from app.models import JobEvent, User
from app.security import CONTENT_SECURITY_POLICY, DOCS_CONTENT_SECURITY_POLICY
from app.settings import Settings
from tests.conftest import LiveApp
from tests.fixtures.accounts import browser, signed_up
from tests.fixtures.dead_letters import assert_problem, failed, submit, wait_for

MONITOR = "/admin/queues"


async def event_types(live: LiveApp, job_id: str) -> list[str]:
    return await live.container.db.read(
        lambda c: list(
            c.execute(
                select(JobEvent.type)
                .where(JobEvent.job_id == uuid.UUID(job_id))
                .order_by(JobEvent.id)
            ).scalars()
        )
    )


async def check_pages_static_and_json(live: LiveApp) -> None:
    """The monitor's pages, static files and JSON endpoints answer an admin."""
    async with (
        await live.user(f"ops-{uuid.uuid4().hex[:6]}@example.com", admin=True) as admin,
        await live.user(f"ann-{uuid.uuid4().hex[:6]}@example.com") as ann,
    ):
        for page in ("/", "/queues/default", f"/queues/default/jobs/{uuid.uuid4()}"):
            response = await admin.get(MONITOR + page)
            assert response.status_code == 200, page
            assert response.headers["content-type"].startswith("text/html")
            assert f'const root_path = "{MONITOR}"' in response.text
        for asset, media_type in (
            ("app.js", "text/javascript"),
            ("snabbdom.js", "text/javascript"),
            ("pico.min.css", "text/css"),
        ):
            for encoding in ("gzip", "identity"):
                response = await admin.get(
                    f"{MONITOR}/static/{asset}", headers={"Accept-Encoding": encoding}
                )
                assert response.status_code == 200, (asset, encoding)
                assert response.headers["content-type"].startswith(media_type)
                assert len(response.content) > 1000
                if encoding == "identity":
                    assert "content-encoding" not in response.headers
        assert (await admin.get(f"{MONITOR}/static/nothing.js")).status_code == 404

        queues = (await admin.get(f"{MONITOR}/api/queues")).json()["queues"]
        assert {queue["name"] for queue in queues} == {"high", "default", "low"}
        slow = await submit(ann, seconds=30, steps=60)
        await wait_for(ann, slow, {"running"})
        detail = (await admin.get(f"{MONITOR}/api/queues/default")).json()["queue"]
        assert slow in {job["key"] for job in detail["jobs"]}
        assert detail["active"] >= 1
        job = (await admin.get(f"{MONITOR}/api/queues/default/jobs/{slow}")).json()["job"]
        assert job["key"] == slow
        assert job["function"] == "diagnostic.echo"
        assert job["status"] == "active"
        assert (await admin.get(f"{MONITOR}/health")).text == "OK"

        assert_problem(await admin.get(f"{MONITOR}/api/queues/default/jobs/{uuid.uuid4()}"), 404)
        assert_problem(await admin.get(f"{MONITOR}/api/queues/nowhere"), 404)
        assert_problem(await admin.post(f"{MONITOR}/api/queues/default/jobs/nope/abort"), 404)
        assert_problem(await admin.get(f"{MONITOR}/no/such/page"), 404)
        assert (await ann.post(f"/api/jobs/{slow}/cancel")).status_code == 200


async def check_abort_and_retry(live: LiveApp) -> None:
    """Abort on a running job ends our job cancelled, with its event and a closed attempt, and
    it stays cancelled; Retry on a failed job runs it again; both are audited."""
    async with (
        await live.user(f"ops-{uuid.uuid4().hex[:6]}@example.com", admin=True) as admin,
        await live.user(f"ann-{uuid.uuid4().hex[:6]}@example.com") as ann,
    ):
        running = await submit(ann, seconds=30, steps=60)
        await wait_for(ann, running, {"running"})
        response = await admin.post(f"{MONITOR}/api/queues/default/jobs/{running}/abort")
        assert response.status_code == 200, response.text
        cancelled = await wait_for(ann, running)
        assert cancelled["status"] == "cancelled"
        assert cancelled["errorKind"] == "cancelled"
        assert [a["outcome"] for a in cancelled["attempts"]] == ["cancelled"]
        # Longer than a reconcile interval and an abort poll: nothing brings it back.
        await anyio.sleep(2.5)
        after = (await ann.get(f"/api/jobs/{running}")).json()
        assert (after["status"], after["attempt"]) == ("cancelled", 1)
        types = await event_types(live, running)
        assert types[-1] == "cancelled"
        assert "requeued" not in types
        again = await admin.post(f"{MONITOR}/api/queues/default/jobs/{running}/abort")
        assert_problem(again, 409)

        job = await failed(ann, "user")
        response = await admin.post(f"{MONITOR}/api/queues/default/jobs/{job['id']}/retry")
        assert response.status_code == 200, response.text
        done = await wait_for(ann, job["id"], {"completed"})
        assert done["attempt"] == 2
        assert (await event_types(live, job["id"]))[-1] == "completed"
        assert "retried" in await event_types(live, job["id"])

        entries = (await admin.get("/api/admin/audit")).json()["items"]
        mine = [(e["action"], e["target"]) for e in entries if e["detail"].get("via")]
        assert ("job.cancel", running) in mine
        assert ("job.retry", job["id"]) in mine


async def test_monitor_pages_static_files_and_json(live: LiveApp) -> None:
    """On the SQLite queue: pages, gzip-only static files with and without gzip, queue list,
    queue detail, job detail; unknown jobs, queues and pages are 404 problems."""
    await check_pages_static_and_json(live)


async def test_monitor_abort_and_retry_change_our_jobs(live: LiveApp) -> None:
    """On the SQLite queue: Abort and Retry go through our job table."""
    await check_abort_and_retry(live)


async def test_monitor_is_for_admins_only(live: LiveApp) -> None:
    """Anonymous callers get 401 problems, other users 403, for pages, API and static files."""
    async with await live.user("ann@example.com") as ann, browser(live) as anonymous:
        job = await failed(ann, "user")
        for method, path in (
            ("GET", "/"),
            ("GET", "/api/queues"),
            ("GET", "/api/queues/default"),
            ("GET", f"/api/queues/default/jobs/{job['id']}"),
            ("POST", f"/api/queues/default/jobs/{job['id']}/retry"),
            ("POST", f"/api/queues/default/jobs/{job['id']}/abort"),
            ("GET", "/static/app.js"),
            ("GET", "/health"),
        ):
            assert_problem(await anonymous.request(method, MONITOR + path), 401)
            assert_problem(await ann.request(method, MONITOR + path), 403)
        assert (await ann.get(f"/api/jobs/{job['id']}")).json()["attempt"] == 1


async def test_monitor_actions_by_cookie_need_a_same_origin_request(live: LiveApp) -> None:
    """A cookie-signed admin's Abort from another site is refused by the CSRF guard; from the
    monitor's own page it gets through (here to a 404 for a job that is not there)."""
    async with signed_up(live, "cookie-ops@example.com") as admin:
        await live.container.db.write(
            lambda c: c.execute(
                update(User).where(User.email == "cookie-ops@example.com").values(is_admin=True)
            )
        )
        path = f"{MONITOR}/api/queues/default/jobs/{uuid.uuid4()}/abort"
        assert_problem(await admin.post(path, headers={"Sec-Fetch-Site": "cross-site"}), 403)
        assert_problem(await admin.post(path), 404)
        assert (await admin.get(f"{MONITOR}/api/queues")).status_code == 200


async def test_monitor_allows_only_its_own_inline_script(live: LiveApp) -> None:
    """The monitor's policy allows its one inline script by hash (no 'unsafe-inline'); every
    other path keeps the app's own policy."""
    async with await live.user("ops@example.com", admin=True) as admin:
        page = await admin.get(f"{MONITOR}/")
        [script] = re.findall(r"<script>(.*?)</script>", page.text, flags=re.DOTALL)
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        policy = page.headers["content-security-policy"]
        assert f"'sha256-{digest}'" in policy
        assert "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        static = await admin.get(f"{MONITOR}/static/app.js")
        assert static.headers["content-security-policy"] == policy
        # (Pages of the web app carry their own hashes: tests/api/test_web.py.)
        for path in ("/api/jobs", "/api/admin/audit", "/admin", "/admin/queuesx"):
            response = await admin.get(path)
            assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        docs = await admin.get("/api/docs")
        assert docs.headers["content-security-policy"] == DOCS_CONTENT_SECURITY_POLICY


async def test_two_apps_in_one_process_each_show_their_own_queues(
    live: LiveApp,
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], AsyncIterator[LiveApp]],
    tmp_path: Path,
) -> None:
    """SAQ's module-level queue registry is not used: a second app in the same process lists
    its own queues' jobs, and the first app still lists its own."""
    async for other in serve(make_settings(data_dir=tmp_path / "other")):
        async with (
            await live.user("ops@example.com", admin=True) as admin,
            await live.user("ann@example.com") as ann,
            await other.user("ops@example.com", admin=True) as other_admin,
        ):
            slow = await submit(ann, seconds=30)
            await wait_for(ann, slow, {"running"})
            mine = (await admin.get(f"{MONITOR}/api/queues/default")).json()["queue"]
            theirs = (await other_admin.get(f"{MONITOR}/api/queues/default")).json()["queue"]
            assert slow in {job["key"] for job in mine["jobs"]}
            assert theirs["jobs"] == []
            assert_problem(await other_admin.get(f"{MONITOR}/api/queues/default/jobs/{slow}"), 404)
            assert (await ann.post(f"/api/jobs/{slow}/cancel")).status_code == 200


async def test_entries_that_are_not_our_jobs_keep_saq_behaviour(live: LiveApp) -> None:
    """A queue entry with no row in our job table (a foreign key) is aborted by SAQ itself,
    and the action is still audited."""
    queue = live.container.queues["low"]
    await queue.enqueue("diagnostic.echo", key="cron:tidy", scheduled=int(time.time()) + 3600)
    async with await live.user("ops@example.com", admin=True) as admin:
        listed = (await admin.get(f"{MONITOR}/api/queues/low")).json()["queue"]
        assert "cron:tidy" in {job["key"] for job in listed["jobs"]}
        response = await admin.post(f"{MONITOR}/api/queues/low/jobs/cron:tidy/abort")
        assert response.status_code == 200, response.text
        entries = (await admin.get("/api/admin/audit", params={"action": "queue.abort"})).json()
    saq_job = await queue.job("cron:tidy")
    assert saq_job is not None
    assert saq_job.status == "aborted"
    assert [(e["target"], e["detail"]) for e in entries["items"]] == [
        ("cron:tidy", {"via": "queue monitor"})
    ]
