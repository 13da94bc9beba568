"""The web app's serving: pages with their own CSP, API paths never shadowed, the committed
OpenAPI schema the TypeScript types come from, and resuming an event stream by query."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import httpx

from app.main import create_app
from app.settings import Settings
from app.web import openapi_document, page_policy
from tests.conftest import LiveApp, read_sse

REPO = Path(__file__).resolve().parents[2]
BOOT = "(self.__next_f=self.__next_f||[]).push([0])"
PAYLOAD = 'self.__next_f.push([1,"0:{\\"P\\":null}\\n"])'
PAGE = (
    '<!DOCTYPE html><html><head><script src="/_next/static/chunks/main.js" async=""></script>'
    f"</head><body><p>hi</p><script>{BOOT}</script><script>{PAYLOAD}</script></body></html>"
)


def sha256_source(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def client_for(settings: Settings) -> httpx.AsyncClient:
    """The app without its lifespan: these routes need no database or queue."""
    transport = httpx.ASGITransport(app=create_app(settings))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")


def build(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    (out / "jobs" / "detail").mkdir(parents=True)
    (out / "_next" / "static" / "chunks").mkdir(parents=True)
    (out / "index.html").write_text(PAGE)
    (out / "jobs" / "detail" / "index.html").write_text(PAGE.replace("hi", "detail"))
    (out / "404.html").write_text("<html><body>Page not found</body></html>")
    (out / "_next" / "static" / "chunks" / "main.js").write_text("console.log(1)")
    return out


def test_page_policy_allows_exactly_the_inline_scripts() -> None:
    """Each inline script's hash is in script-src; no 'unsafe-inline', the rest unchanged."""
    policy = page_policy(PAGE)
    script_src = next(part for part in policy.split("; ") if part.startswith("script-src"))
    assert script_src == f"script-src 'self' {sha256_source(BOOT)} {sha256_source(PAYLOAD)}"
    assert "unsafe-inline" not in policy
    assert "style-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy


async def test_pages_are_served_with_their_own_policy(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    """HTML gets its per-page CSP (the middleware keeps it); hashed assets are cached for good;
    a query-string detail page resolves; an unknown page is the export's 404 page."""
    async with client_for(make_settings(web_dir=build(tmp_path))) as client:
        home = await client.get("/")
        assert home.status_code == 200
        assert home.headers["content-security-policy"] == page_policy(PAGE)
        assert home.headers["x-frame-options"] == "DENY"

        detail = await client.get("/jobs/detail?id=abc", follow_redirects=True)
        assert detail.status_code == 200
        assert str(detail.url).endswith("/jobs/detail/?id=abc")
        assert "detail" in detail.text

        asset = await client.get("/_next/static/chunks/main.js")
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"

        missing = await client.get("/no-such-page/")
        assert missing.status_code == 404
        assert "Page not found" in missing.text


async def test_api_paths_are_never_pages(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    """Unknown /api paths stay JSON 404s and a wrong method on an API route stays a 405."""
    async with client_for(make_settings(web_dir=build(tmp_path))) as client:
        for path in ("/api/no-such-thing", "/api", "/api/"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"] == "application/problem+json"
        wrong_method = await client.patch("/api/auth/me")
        assert wrong_method.status_code == 405


async def test_app_works_without_a_build(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    """No web/out: the API still answers and / says how to build the pages."""
    async with client_for(make_settings(web_dir=tmp_path / "not-built")) as client:
        home = await client.get("/")
        assert home.status_code == 503
        assert "make run" in home.text
        assert (await client.get("/api/nope")).status_code == 404


def test_committed_openapi_schema_matches_the_app() -> None:
    """web/openapi.json (what `npm run gen:api` reads) is the app's current schema; regenerate
    it with `make api-types` after changing the API."""
    committed = json.loads((REPO / "web" / "openapi.json").read_text())
    assert committed == json.loads(openapi_document()), "run `make api-types`"


async def test_stream_resumes_from_a_query_last_event_id(live: LiveApp) -> None:
    """`?lastEventId=` replays what came after that event, as the Last-Event-ID header does
    (a new EventSource cannot send the header)."""
    async with await live.user("resume-stream@example.com") as client:
        response = await client.post(
            "/api/jobs",
            json={"jobType": "diagnostic.echo", "inputData": {"seconds": 1.5, "steps": 3}},
        )
        job_id = response.json()["id"]
        params = {"job_id": job_id}
        async with client.stream("GET", "/api/jobs/events", params=params) as stream:
            seen = [m async for m in read_sse(stream)]
        assert seen[-1]["data"]["job"]["status"] == "completed"
        first_change = next(m for m in seen if m["data"]["eventType"] != "snapshot")
        resume_from = str(int(first_change["id"]) - 1)
        params = {"job_id": job_id, "lastEventId": resume_from}
        async with client.stream("GET", "/api/jobs/events", params=params) as stream:
            replayed = [m async for m in read_sse(stream)]
        assert replayed[0]["id"] == first_change["id"]
        assert replayed[-1]["data"]["job"]["status"] == "completed"
        assert all(m["data"]["eventType"] != "snapshot" for m in replayed)
