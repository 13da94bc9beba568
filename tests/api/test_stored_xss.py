"""U8 at the API: hostile text is stored and served back as data, and the event stream carries it
JSON-encoded, one ``data:`` line per event, so no text can inject lines or events of its own.
(The browser side, that pages render it as text, is ``tests/e2e/test_stored_xss.py``.)"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from app.settings import Settings
from tests.conftest import LiveApp, loopback_site
from tests.fixtures.hostile import (
    HOSTILE_COMPANY,
    HOSTILE_POSTING,
    HOSTILE_RESUME,
    HOSTILE_TITLE,
    IMG,
    PAYLOADS,
    SCRIPT,
    SVG,
)

TERMINAL = {"completed", "failed", "cancelled"}
# Text that would end the event and start one of its own if it reached the stream unencoded.
INJECTION = '\n\nid: 999999\nevent: job\ndata: {"eventType": "completed"}\n\n\r\r'
FIELDS = ("id", "event", "data", "retry")


@pytest.fixture
async def board() -> AsyncIterator[str]:
    async def posting(_request: Request) -> Response:
        return HTMLResponse(HOSTILE_POSTING)

    async with loopback_site(Starlette(routes=[Route("/jobs/hostile", posting)])) as host:
        yield host


@pytest.fixture
async def live(
    board: str,
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], AsyncIterator[LiveApp]],
) -> AsyncIterator[LiveApp]:
    async for live in serve(make_settings(fetch_allow_hosts=board, rate_limit_submit="off")):
        yield live


async def finished(client: httpx.AsyncClient, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    with anyio.fail_after(60):
        while (job := (await client.get(f"/api/jobs/{job_id}")).json())["status"] not in TERMINAL:
            await anyio.sleep(0.05)
    assert job["status"] == "completed", job
    return dict(job)


async def raw_events(client: httpx.AsyncClient, job_id: str) -> str:
    """The job's whole event stream as sent (replayed from the start; it ends at the terminal
    event), undecoded."""
    chunks: list[str] = []
    with anyio.fail_after(30):
        async with client.stream(
            "GET", "/api/jobs/events", params={"job_id": job_id}, headers={"Last-Event-ID": "0"}
        ) as stream:
            assert stream.status_code == 200
            async for text in stream.aiter_text():
                chunks.append(text)
    return "".join(chunks)


def lines_of(raw: str) -> list[str]:
    """The stream's lines as a browser splits them: CRLF, CR and LF all end a line."""
    return re.split(r"\r\n|\r|\n", raw)


def frames(raw: str) -> list[list[str]]:
    """SSE frames (events) of a stream: lines between blank lines, comments dropped."""
    found: list[list[str]] = [[]]
    for line in lines_of(raw):
        if not line:
            found.append([])
        elif not line.startswith(":"):
            found[-1].append(line)
    return [lines for lines in found if lines]


async def test_hostile_text_is_stored_verbatim_and_streamed_json_encoded(
    live: LiveApp, board: str
) -> None:
    """U8: a resume, a job board page and a job input full of markup and line breaks: the API
    returns the text unchanged as JSON strings, and every event of the stream is one ``id``,
    one ``event`` and exactly one ``data:`` line of JSON that decodes to the same text; the
    injected lines never appear as lines of the stream."""
    async with await live.user("mallory@example.com") as client:
        parsed = await finished(
            client,
            await client.put(
                "/api/parse",
                files={"file": ("resume.txt", HOSTILE_RESUME.encode(), "text/plain")},
            ),
        )
        resume = (await client.get(f"/api/resumes/{parsed['resultData']['resumeId']}")).json()
        extracted = await finished(
            client, await client.put("/api/job", json={"url": f"http://{board}/jobs/hostile"})
        )
        posting_id = extracted["resultData"]["jobPostingId"]
        posting = (await client.get(f"/api/job-postings/{posting_id}")).json()
        optimized = await finished(
            client,
            await client.put("/api/optimize", json={"resumeId": resume["id"], "jobId": posting_id}),
        )
        echo = "".join(PAYLOADS) + INJECTION
        echoed = await finished(
            client,
            await client.post(
                "/api/jobs",
                json={"jobType": "diagnostic.echo", "inputData": {"echo": echo, "steps": 2}},
            ),
        )

        # Stored and served as the text it was, not escaped, stripped or rewritten.
        experience = resume["resume"]["experience"][0]
        assert experience["company"] == f"Evil Corp {SVG}"
        assert experience["bullets"][0].endswith(SCRIPT)
        assert experience["bullets"][1].endswith(IMG)
        assert posting["jobPosting"]["title"] == HOSTILE_TITLE
        assert posting["jobPosting"]["company"] == HOSTILE_COMPANY
        assert posting["jobPosting"]["location"] == f"Berlin {SCRIPT}"
        assert echoed["resultData"]["echo"] == echo

        for job in (parsed, extracted, optimized, echoed):
            raw = await raw_events(client, job["id"])
            events = frames(raw)
            assert events, raw
            for lines in events:
                fields = [line.partition(":")[0] for line in lines]
                assert all(name in FIELDS for name in fields), lines
                assert fields.count("data") == 1, lines
                assert fields.count("id") == 1, lines
                data = json.loads(next(line for line in lines if line.startswith("data:"))[5:])
                assert data["job"]["id"] == job["id"]
            decoded = [
                json.loads(next(line for line in lines if line.startswith("data:"))[5:])
                for lines in events
            ]
            assert [event["eventType"] for event in decoded].count("completed") == 1
            if job is echoed:
                assert decoded[-1]["job"]["resultData"]["echo"] == echo
                assert 'data: {"eventType": "completed"}' not in lines_of(raw)
                assert "id: 999999" not in lines_of(raw)
