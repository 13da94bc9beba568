"""CSRF (A5) and security headers: cross-site cookie writes are refused, same-origin and bearer
requests pass; every answer, event streams included, carries the headers, unbuffered."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import anyio
import httpx
import pytest

from app.settings import Settings
from tests.conftest import LiveApp, read_sse
from tests.fixtures.accounts import PASSWORD, browser, signed_up, submit


async def job_count(client: httpx.AsyncClient) -> int:
    return len((await client.get("/api/jobs")).json()["items"])


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "SELF"},  # Fetch Metadata decides first
        {"Sec-Fetch-Site": "", "Origin": "http://evil.example"},
        {"Sec-Fetch-Site": "", "Origin": "null"},
        {"Sec-Fetch-Site": ""},  # a cookie and no word on where the request comes from
    ],
    ids=["cross-site", "same-site", "cross-site-own-origin", "foreign-origin", "null", "silent"],
)
async def test_cross_site_cookie_post_is_refused(live: LiveApp, headers: dict[str, str]) -> None:
    """A5: A cookie-authenticated POST from another site is a 403 problem and makes no job."""
    async with signed_up(live, "victim@example.com") as client:
        sent = {name: value.replace("SELF", live.base_url) for name, value in headers.items()}
        request = client.build_request("POST", "/api/jobs", json={"jobType": "diagnostic.echo"})
        for name, value in sent.items():
            if value:
                request.headers[name] = value
            else:
                del request.headers[name]
        response = await client.send(request)
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert await job_count(client) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
        {"Sec-Fetch-Site": "", "Origin": "SELF"},
    ],
    ids=["same-origin", "user-typed", "own-origin"],
)
async def test_same_origin_cookie_post_passes(live: LiveApp, headers: dict[str, str]) -> None:
    """A5: The app's own pages (Fetch Metadata same-origin or none, or the own Origin) may write."""
    async with signed_up(live, "own@example.com") as client:
        request = client.build_request("POST", "/api/jobs", json={"jobType": "diagnostic.echo"})
        for name, value in headers.items():
            if value:
                request.headers[name] = value.replace("SELF", live.base_url)
            else:
                del request.headers[name]
        assert (await client.send(request)).status_code == 202


async def test_cross_site_cookie_delete_is_refused(live: LiveApp) -> None:
    """A5: A cross-site DELETE with the cookie is refused and the job is still there."""
    async with signed_up(live, "keep@example.com") as client:
        job = (await submit(client)).json()
        with anyio.fail_after(30):
            while (await client.get(f"/api/jobs/{job['id']}")).json()["status"] != "completed":
                await anyio.sleep(0.05)
        refused = await client.delete(
            f"/api/jobs/{job['id']}", headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert refused.status_code == 403
        assert (await client.get(f"/api/jobs/{job['id']}")).status_code == 200
        assert (await client.delete(f"/api/jobs/{job['id']}")).status_code == 204


async def test_cross_site_login_is_refused(live: LiveApp) -> None:
    """A5: Login CSRF: another site cannot sign the browser in to an account of its choosing."""
    async with signed_up(live, "mine@example.com"), browser(live) as client:
        response = await client.post(
            "/api/auth/login",
            json={"email": "mine@example.com", "password": PASSWORD},
            headers={"Sec-Fetch-Site": "cross-site"},
        )
        assert response.status_code == 403
        assert "set-cookie" not in response.headers


async def test_bearer_requests_are_exempt(live: LiveApp) -> None:
    """A5: A bearer-token request passes whatever its Fetch Metadata says (a page on another site
    cannot send an Authorization header without a CORS preflight)."""
    async with await live.user("script@example.com") as script:
        response = await script.post(
            "/api/jobs",
            json={"jobType": "diagnostic.echo"},
            headers={"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"},
        )
        assert response.status_code == 202


async def test_reads_are_not_guarded(live: LiveApp) -> None:
    """A5: A cross-site GET is answered (reads change nothing; SameSite=Lax and CORS cover them)."""
    async with signed_up(live, "reader@example.com") as client:
        response = await client.get("/api/auth/me", headers={"Sec-Fetch-Site": "cross-site"})
        assert response.status_code == 200


async def test_trusted_origin_may_write(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> None:
    """A5: An origin listed in ATSPRO_TRUSTED_ORIGINS (a dev server) may write; others may not."""
    settings = make_settings(trusted_origins="http://localhost:3000/, http://other:1")
    async for live in serve(settings):
        async with signed_up(live, "dev@example.com") as client:
            del client.headers["Sec-Fetch-Site"]
            silent = await submit(client)
            assert silent.status_code == 403  # a cookie, and no Origin at all: refused
            ok = await client.post(
                "/api/jobs",
                json={"jobType": "diagnostic.echo"},
                headers={"Origin": "http://localhost:3000"},
            )
            assert ok.status_code == 202
            refused = await client.post(
                "/api/jobs",
                json={"jobType": "diagnostic.echo"},
                headers={"Origin": "http://localhost:3001"},
            )
            assert refused.status_code == 403


def assert_security_headers(response: httpx.Response) -> None:
    csp = response.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["script-src"] == "'self'"  # no inline script, no eval
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"


async def test_every_kind_of_answer_carries_the_security_headers(live: LiveApp) -> None:
    """JSON, 401, 404, 422, the CSRF 403, health and the OpenAPI schema all carry the headers."""
    async with signed_up(live, "headers@example.com") as client:
        responses = [
            await client.get("/api/auth/me"),
            await client.get("/api/jobs/00000000-0000-0000-0000-000000000000"),
            await client.post("/api/jobs", json={"nope": 1}),
            await client.post("/api/jobs", json={}, headers={"Sec-Fetch-Site": "cross-site"}),
            await client.get("/healthz"),
            await client.get("/api/openapi.json"),
        ]
        async with browser(live) as anonymous:
            responses.append(await anonymous.get("/api/jobs"))
    assert [r.status_code for r in responses] == [200, 404, 422, 403, 200, 200, 401]
    for response in responses:
        assert_security_headers(response)
    assert responses[0].headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in responses[0].headers  # plain http in development


async def test_event_stream_carries_headers_and_is_not_buffered(live: LiveApp) -> None:
    """E5: The SSE answer has the headers, and its first event arrives while the job still runs."""
    async with signed_up(live, "sse@example.com") as client:
        job = (await submit(client, inputData={"seconds": 5, "steps": 5})).json()
        async with client.stream("GET", "/api/jobs/events", params={"job_id": job["id"]}) as r:
            assert r.status_code == 200
            assert_security_headers(r)
            assert r.headers["cache-control"] == "no-cache"  # the route's own value is kept
            with anyio.fail_after(3):
                async for message in read_sse(r):
                    assert message["data"]["job"]["status"] in {"pending", "running"}
                    break
        await client.post(f"/api/jobs/{job['id']}/cancel")


async def test_production_adds_hsts(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> None:
    """In production every answer also tells browsers to use HTTPS only (HSTS)."""
    async for live in serve(make_settings(env="production")):
        async with httpx.AsyncClient(base_url=live.base_url) as client:
            response = await client.get("/healthz")
        assert "max-age=" in response.headers["strict-transport-security"]
        assert_security_headers(response)


async def test_docs_page_keeps_framing_and_plugins_off(live: LiveApp) -> None:
    """The API docs page may run its own script, but still cannot be framed or load plugins."""
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        response = await client.get("/api/docs")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp
