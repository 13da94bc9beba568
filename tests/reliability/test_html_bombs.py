"""F11: hostile job pages that are valid HTML: 100,000 nested ``<div>``s, a 2 MB attribute,
30,000 unclosed tags, ~330,000 tiny elements, and a non-HTML type. Each extract job ends in a
terminal state within its budget (read or a clear failure), the page is read in the parser
child (the serving process does not pay for it), and the worker still runs the next job."""

from __future__ import annotations

import resource
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import pytest
from bs4 import BeautifulSoup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from app.ai.offline.markup import html_blocks
from app.settings import Settings
from tests.conftest import LiveApp, loopback_site
from tests.fixtures.ai_samples import HOSTILE_DENSE_ITEMS, JSONLD_POSTING, dense_posting

TERMINAL = {"completed", "failed", "cancelled"}
DEPTH = 100_000

PAGES = {
    "nested": "<html><body><h1>Engineer</h1>"
    + "<div>" * DEPTH
    + "Python"
    + "</div>" * DEPTH
    + "</body></html>",
    "attribute": '<html><body><h1 title="' + "x" * 2_000_000 + '">Engineer</h1></body></html>',
    "unclosed": "<html><body><h1>Engineer</h1>" + "<p><b><i>" * 30_000 + "</body></html>",
    "dense": dense_posting(HOSTILE_DENSE_ITEMS),
}


@asynccontextmanager
async def running(
    serve: Callable[[Settings], AsyncIterator[LiveApp]], settings: Settings
) -> AsyncIterator[LiveApp]:
    async for app in serve(settings):
        yield app


@pytest.mark.parametrize("kind", sorted(PAGES))
async def test_html_bomb_ends_cleanly_and_the_worker_carries_on(
    kind: str,
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], AsyncIterator[LiveApp]],
) -> None:
    """F11: the bomb's extract job is completed or failed with a user-facing message within
    60 s (never left running, never an internal error from a RecursionError: 100,000 nested
    ``<div>``s used to burn minutes of CPU and then fail as a bug), and a normal posting
    fetched afterwards by the same process completes. The reading's CPU is the parser child's:
    ~330,000 tiny elements took 10-27 s of CPU in a thread of the serving process, beside its
    event loop (2026-11-30); this process now spends less than the child did, or under 2 s."""

    async def page(request: Request) -> Response:
        body = PAGES[kind] if request.path_params["name"] == "bomb" else JSONLD_POSTING
        return HTMLResponse(body)

    async with loopback_site(Starlette(routes=[Route("/jobs/{name}", page)])) as site:
        settings = make_settings(fetch_allow_hosts=site)
        async with running(serve, settings) as live, await live.user("bomb@example.com") as client:

            async def finished(url: str) -> dict[str, object]:
                response = await client.put("/api/job", json={"url": url})
                assert response.status_code == 202, response.text
                job_id = response.json()["id"]
                with anyio.fail_after(60):
                    while (job := (await client.get(f"/api/jobs/{job_id}")).json())[
                        "status"
                    ] not in TERMINAL:
                        await anyio.sleep(0.1)
                return dict(job)

            before = cpu_seconds()
            bomb = await finished(f"http://{site}/jobs/bomb")
            spent, children = (now - then for now, then in zip(cpu_seconds(), before, strict=True))
            assert spent < max(children, 2.0), (spent, children)
            assert bomb["status"] in {"completed", "failed"}, bomb
            if kind == "nested":  # read as text below 64 levels (was a RecursionError)
                assert bomb["status"] == "completed", bomb
            if bomb["status"] == "failed":
                assert bomb["errorKind"] == "user", bomb
            normal = await finished(f"http://{site}/jobs/normal")
            assert normal["status"] == "completed", normal


def cpu_seconds() -> tuple[float, float]:
    """CPU time (user + system) of this process, and of its children that have ended."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def test_deeply_nested_markup_is_read_as_text_without_recursing() -> None:
    """F11 at the unit level: 3,000 nested ``<div>``s (a RecursionError before the depth cap)
    give the heading and the innermost text as blocks."""
    depth = 3000
    soup = BeautifulSoup(
        "<html><body><h1>Engineer</h1>" + "<div>" * depth + "Python" + "</div>" * depth,
        "lxml",
    )
    assert soup.body is not None
    blocks = html_blocks(soup.body)
    assert [(block.kind, block.text) for block in blocks] == [
        ("heading", "Engineer"),
        ("paragraph", "Python"),
    ]
