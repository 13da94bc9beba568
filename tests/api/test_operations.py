"""The three operations end to end on the SQLite default: upload → parse, URL → posting,
optimize; entities are the caller's alone; bad input is a clear error."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpx
import pytest
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from app.settings import Settings
from tests.conftest import LiveApp, loopback_site
from tests.fixtures.ai_samples import JSONLD_POSTING, PDF_TEXT_RESUME, PLAIN_RESUME
from tests.fixtures.documents import resume_pdf
from tests.fixtures.openai_server import running_fake_openai

TERMINAL = {"completed", "failed", "cancelled"}


def pdf_of(text: str) -> bytes:
    """A real PDF with ``text`` on it, a line per line, as a word processor would make."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=LETTER)
    y = 10.5 * inch
    for line in text.splitlines():
        canvas.setFont("Helvetica", 10)
        canvas.drawString(0.8 * inch, y, line)
        y -= 14
        if y < inch:
            canvas.showPage()
            y = 10.5 * inch
    canvas.save()
    return buffer.getvalue()


@pytest.fixture
async def site() -> AsyncIterator[str]:
    """A job board on 127.0.0.1 (loopback, so the fetcher must be told to allow it)."""

    async def posting(_request: object) -> Response:
        return HTMLResponse(JSONLD_POSTING)

    async def not_html(_request: object) -> Response:
        return JSONResponse({"title": "nope"})

    app = Starlette(routes=[Route("/jobs/4012", posting), Route("/api", not_html)])
    async with loopback_site(app) as host:
        yield host


@pytest.fixture
async def live_ops(
    site: str,
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], AsyncIterator[LiveApp]],
) -> AsyncIterator[tuple[LiveApp, str]]:
    async for app in serve(make_settings(fetch_allow_hosts=site, max_upload_bytes=1024 * 1024)):
        yield app, site


async def finished(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    with anyio.fail_after(60):
        while (job := (await client.get(f"/api/jobs/{job_id}")).json())["status"] not in TERMINAL:
            await anyio.sleep(0.05)
    return dict(job)


async def test_parse_extract_optimize_end_to_end(live_ops: tuple[LiveApp, str]) -> None:
    """A PDF resume and a posting page become entities, and the optimization has a score."""
    live, site = live_ops
    async with await live.user("flow@example.com") as client:
        upload = await client.put(
            "/api/parse",
            files={"file": ("resume.pdf", pdf_of(PDF_TEXT_RESUME), "application/pdf")},
        )
        assert upload.status_code == 202, upload.text
        parsed = await finished(client, upload.json()["id"])
        assert parsed["status"] == "completed", parsed
        resume_id = parsed["resultData"]["resumeId"]
        assert parsed["links"] == {"resume": f"/api/resumes/{resume_id}"}
        assert parsed["resultData"]["processingTime"] >= 0
        resume = (await client.get(f"/api/resumes/{resume_id}")).json()
        assert resume["filename"] == "resume.pdf"
        assert resume["resume"]["experience"], resume

        posting_job = await client.put("/api/job", json={"url": f"http://{site}/jobs/4012"})
        assert posting_job.status_code == 202, posting_job.text
        extracted = await finished(client, posting_job.json()["id"])
        assert extracted["status"] == "completed", extracted
        posting_id = extracted["resultData"]["jobPostingId"]
        posting = (await client.get(f"/api/job-postings/{posting_id}")).json()
        assert posting["jobPosting"]["title"]
        assert posting["url"].endswith("/jobs/4012")

        optimize = await client.put(
            "/api/optimize", json={"resumeId": resume_id, "jobId": posting_id}
        )
        assert optimize.status_code == 202, optimize.text
        optimized = await finished(client, optimize.json()["id"])
        assert optimized["status"] == "completed", optimized
        optimization_id = optimized["resultData"]["optimizationId"]
        assert optimized["links"] == {"optimization": f"/api/optimizations/{optimization_id}"}
        result = (await client.get(f"/api/optimizations/{optimization_id}")).json()
        assert 0 <= result["score"] <= 100
        assert result["optimization"]["scoreBefore"] <= result["score"]
        assert (
            result["optimization"]["matchedKeywords"] or result["optimization"]["missingKeywords"]
        )
        for path in ("/api/resumes", "/api/job-postings", "/api/optimizations"):
            assert len((await client.get(path)).json()["items"]) == 1


async def test_synchronous_mode_returns_the_result_with_a_deprecation_header(
    live_ops: tuple[LiveApp, str],
) -> None:
    """?async=false waits for the job and answers with its result, marked deprecated."""
    live, _site = live_ops
    async with await live.user("sync@example.com") as client:
        response = await client.put(
            "/api/parse",
            params={"async": "false"},
            files={"file": ("resume.txt", PLAIN_RESUME.encode(), "text/plain")},
        )
        assert response.status_code == 200, response.text
        assert response.headers["deprecation"] == "true"
        body = response.json()
        assert body["resume"]["contact"]["email"]
        assert (await client.get(f"/api/resumes/{body['resumeId']}")).status_code == 200


async def test_same_file_twice_while_parsing_returns_one_job(
    live_ops: tuple[LiveApp, str],
) -> None:
    """The same file submitted again while its parse is pending returns the same job."""
    live, _site = live_ops
    async with await live.user("twice@example.com") as client:
        # Hold every slot of the high queue so the parse job stays pending.
        blockers = [
            (
                await client.post(
                    "/api/jobs",
                    json={
                        "jobType": "diagnostic.echo",
                        "inputData": {"seconds": 30},
                        "priority": 1,
                    },
                )
            ).json()["id"]
            for _ in range(live.container.settings.concurrency_high)
        ]
        files = {"file": ("resume.txt", PLAIN_RESUME.encode(), "text/plain")}
        first = (await client.put("/api/parse", files=files)).json()
        second = (await client.put("/api/parse", files=files)).json()
        other = (
            await client.put(
                "/api/parse", files={"file": ("other.txt", b"Someone Else\nPython", "text/plain")}
            )
        ).json()
        assert second["id"] == first["id"]
        assert other["id"] != first["id"]
        for blocker in blockers:
            await client.post(f"/api/jobs/{blocker}/cancel")
        assert (await finished(client, first["id"]))["status"] == "completed"


async def test_bad_uploads_and_urls_are_clear_errors(live_ops: tuple[LiveApp, str]) -> None:
    """U1/U2/F1: Too large, empty, mislabelled files and refused URLs end in clear, user-facing
    errors."""
    live, site = live_ops
    async with await live.user("bad@example.com") as client:
        huge = await client.put(
            "/api/parse", files={"file": ("big.txt", b"a" * (2 * 1024 * 1024), "text/plain")}
        )
        assert huge.status_code == 413
        empty = await client.put("/api/parse", files={"file": ("empty.txt", b"", "text/plain")})
        assert empty.status_code == 422
        renamed = await client.put(
            "/api/parse", files={"file": ("resume.docx", resume_pdf(), "application/pdf")}
        )
        assert renamed.status_code == 422
        assert "docx" in renamed.json()["detail"].lower()
        wrong_type = await client.put(
            "/api/parse", files={"file": ("resume.exe", b"MZ\x90\x00", "application/octet-stream")}
        )
        assert wrong_type.status_code == 422

        blocked = await client.put("/api/job", json={"url": "http://169.254.169.254/latest"})
        failed = await finished(client, blocked.json()["id"])
        assert failed["status"] == "failed"
        assert failed["errorKind"] == "user"
        assert failed["retryCount"] == 0

        not_html = await client.put("/api/job", json={"url": f"http://{site}/api"})
        failed = await finished(client, not_html.json()["id"])
        assert failed["status"] == "failed"
        assert failed["errorKind"] == "user"


async def test_entities_are_private(live_ops: tuple[LiveApp, str]) -> None:
    """Another user's resume is a 404 on read, delete and optimize; the owner's stays."""
    live, _site = live_ops
    async with (
        await live.user("own@example.com") as owner,
        await live.user("peek@example.com") as other,
    ):
        parsed = await finished(
            owner,
            (
                await owner.put(
                    "/api/parse",
                    files={"file": ("resume.txt", PLAIN_RESUME.encode(), "text/plain")},
                )
            ).json()["id"],
        )
        resume_id = parsed["resultData"]["resumeId"]
        missing = str(uuid.uuid4())
        for entity_id in (resume_id, missing):
            assert (await other.get(f"/api/resumes/{entity_id}")).status_code == 404
            assert (await other.delete(f"/api/resumes/{entity_id}")).status_code == 404
            attempt = await other.put(
                "/api/optimize", json={"resumeId": entity_id, "jobId": missing}
            )
            assert attempt.status_code == 404
        assert (await other.get("/api/resumes")).json()["items"] == []
        assert (await owner.get(f"/api/resumes/{resume_id}")).status_code == 200
        assert (await owner.delete(f"/api/resumes/{resume_id}")).status_code == 204
        assert (await owner.get(f"/api/resumes/{resume_id}")).status_code == 404


async def test_with_an_ai_endpoint_parsing_goes_through_the_agents_sdk(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> None:
    """With OPENAI_BASE_URL and a model set, a parse job asks the endpoint and says so."""
    with running_fake_openai() as fake:
        settings = make_settings(
            openai_base_url=fake.base_url,
            openai_api_key="sk-test-not-a-real-key-0000",
            ai_model="local-test-model",
        )
        async for live in serve(settings):
            async with await live.user("agents@example.com") as client:
                upload = await client.put(
                    "/api/parse",
                    files={"file": ("resume.txt", PLAIN_RESUME.encode(), "text/plain")},
                )
                job = await finished(client, upload.json()["id"])
    assert job["status"] == "completed", job
    assert job["resultData"]["resume"]["meta"]["engine"] == "agents"
    assert fake.requests, "the endpoint was never called"
    assert fake.requests[0].body["model"] == "local-test-model"
    assert "sk-test-not-a-real-key-0000" not in str(job)
