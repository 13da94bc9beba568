"""Per-user isolation, driven by the OpenAPI schema (A1-A4): every route that takes an id answers
another user's id exactly like a missing one, lists and streams cannot be widened to other
users, owner fields in bodies are refused, and every private route needs credentials."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
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
from tests.fixtures.accounts import browser, signed_up, submit
from tests.fixtures.ai_samples import JSONLD_POSTING, PLAIN_RESUME

TERMINAL = {"completed", "failed", "cancelled"}

# What each id parameter names. A new route with an id the matrix does not know fails the test
# below until it is added here, so no route escapes the matrix.
ID_KINDS = {
    "job_id": "job",
    "resume_id": "resume",
    "posting_id": "posting",
    "optimization_id": "optimization",
    "token_id": "token",
    "resumeId": "resume",  # PUT /api/optimize body
    "jobId": "posting",
}
PUBLIC = {("POST", "/api/auth/signup"), ("POST", "/api/auth/login")}
READS = {
    "job": "/api/jobs/{}",
    "resume": "/api/resumes/{}",
    "posting": "/api/job-postings/{}",
    "optimization": "/api/optimizations/{}",
}


@dataclass
class Operation:
    method: str
    path: str
    path_ids: list[str] = field(default_factory=list)
    query_ids: list[str] = field(default_factory=list)
    body_ids: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


def operations(schema: dict[str, Any]) -> list[Operation]:
    """Every operation of the schema with the uuid parameters it takes (path, query, body)."""
    found = []
    components = schema.get("components", {}).get("schemas", {})
    for path, methods in schema["paths"].items():
        for method, spec in methods.items():
            operation = Operation(method.upper(), path, tags=spec.get("tags", []))
            for parameter in spec.get("parameters", []):
                if parameter["in"] == "path":
                    operation.path_ids.append(parameter["name"])
                elif parameter["in"] == "query" and _is_uuid(parameter.get("schema", {})):
                    operation.query_ids.append(parameter["name"])
            body = spec.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                ref = body["schema"].get("$ref", "")
                properties = components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
                operation.body_ids = [n for n, s in properties.items() if _is_uuid(s)]
            found.append(operation)
    return found


def _is_uuid(schema: dict[str, Any]) -> bool:
    options = schema.get("anyOf", [schema])
    return any(option.get("format") == "uuid" for option in options)


async def openapi(live: LiveApp) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        schema: dict[str, Any] = (await client.get("/api/openapi.json")).json()
    return schema


@pytest.fixture
async def site() -> AsyncIterator[str]:
    """A job board on loopback, for the posting A extracts."""

    async def posting(_request: Request) -> Response:
        return HTMLResponse(JSONLD_POSTING)

    async with loopback_site(Starlette(routes=[Route("/jobs/1", posting)])) as host:
        yield host


@pytest.fixture
async def live_site(
    site: str,
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], AsyncIterator[LiveApp]],
) -> AsyncIterator[tuple[LiveApp, str]]:
    async for live in serve(make_settings(fetch_allow_hosts=site)):
        yield live, site


async def finished(client: httpx.AsyncClient, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    with anyio.fail_after(60):
        while (job := (await client.get(f"/api/jobs/{job_id}")).json())["status"] not in TERMINAL:
            await anyio.sleep(0.05)
    assert job["status"] == "completed", job
    return dict(job)


async def owned_by(client: httpx.AsyncClient, site: str) -> dict[str, str]:
    """A job, resume, posting, optimization and API token of the client's user, by kind."""
    parsed = await finished(
        client,
        await client.put(
            "/api/parse", files={"file": ("resume.txt", PLAIN_RESUME.encode(), "text/plain")}
        ),
    )
    extracted = await finished(
        client, await client.put("/api/job", json={"url": f"http://{site}/jobs/1"})
    )
    ids = {
        "job": parsed["id"],
        "resume": parsed["resultData"]["resumeId"],
        "posting": extracted["resultData"]["jobPostingId"],
    }
    optimized = await finished(
        client,
        await client.put(
            "/api/optimize", json={"resumeId": ids["resume"], "jobId": ids["posting"]}
        ),
    )
    ids["optimization"] = optimized["resultData"]["optimizationId"]
    ids["token"] = (await client.post("/api/auth/tokens", json={"name": "a"})).json()["id"]
    return ids


async def snapshot(client: httpx.AsyncClient, ids: dict[str, str]) -> dict[str, Any]:
    """Everything the owner can read of its data."""
    state: dict[str, Any] = {
        kind: (await client.get(READS[kind].format(ids[kind]))).json() for kind in READS
    }
    for path in ("/api/jobs", "/api/resumes", "/api/job-postings", "/api/optimizations"):
        state[path] = (await client.get(path)).json()
    state["tokens"] = (await client.get("/api/auth/tokens")).json()
    return state


async def call(
    client: httpx.AsyncClient, operation: Operation, ids: dict[str, str]
) -> httpx.Response:
    """The operation with every id taken from ``ids`` (by the kind each parameter names)."""
    path = operation.path
    for name in operation.path_ids:
        path = path.replace("{" + name + "}", ids[ID_KINDS[name]])
    params = {name: ids[ID_KINDS[name]] for name in operation.query_ids}
    body = {name: ids[ID_KINDS[name]] for name in operation.body_ids} or None
    return await client.request(operation.method, path, params=params, json=body)


def masked(response: httpx.Response, *ids: str) -> tuple[int, str]:
    text = response.text
    for value in ids:
        text = text.replace(value, "<id>")
    return response.status_code, re.sub(r"[0-9a-f-]{36}", "<id>", text)


async def test_other_users_ids_are_404_like_missing_ones(
    live_site: tuple[LiveApp, str],
) -> None:
    """A1/A2: for every route taking an id (path, query or body), user B, by cookie or token,
    using A's id gets the same 404 as for a missing id, and A's data is unchanged."""
    live, site = live_site
    schema = await openapi(live)
    # Admin routes see every user's data by design; non-admins get a 403 there
    # (tests/api/test_admin_console.py).
    with_ids = [
        op
        for op in operations(schema)
        if (op.path_ids or op.query_ids or op.body_ids) and "admin" not in op.tags
    ]
    unknown = {
        name
        for op in with_ids
        for name in op.path_ids + op.query_ids + op.body_ids
        if name not in ID_KINDS
    }
    assert not unknown, f"add these id parameters to the isolation matrix: {unknown}"
    covered = {(op.method, op.path) for op in with_ids}
    assert {("GET", "/api/jobs/{job_id}"), ("GET", "/api/jobs/events")} <= covered
    assert ("DELETE", "/api/auth/tokens/{token_id}") in covered
    assert ("PUT", "/api/optimize") in covered

    async with (
        signed_up(live, "owner@example.com") as owner,
        signed_up(live, "intruder@example.com") as by_cookie,
        await live.user("intruder-script@example.com") as by_token,
    ):
        a_ids = await owned_by(owner, site)
        before = await snapshot(owner, a_ids)
        missing = {kind: str(uuid.uuid4()) for kind in a_ids}
        for intruder in (by_cookie, by_token):
            for operation in with_ids:
                theirs = await call(intruder, operation, a_ids)
                nobodys = await call(intruder, operation, missing)
                label = f"{operation.method} {operation.path}"
                assert theirs.status_code == 404, f"{label}: {theirs.status_code} {theirs.text}"
                assert masked(theirs, *a_ids.values()) == masked(nobodys, *missing.values()), label
        assert await snapshot(owner, a_ids) == before


async def test_lists_cannot_be_widened_to_other_users(live: LiveApp) -> None:
    """A3: ?userId= (and ?user_id=) on every list is ignored: B sees none of A's data."""
    schema = await openapi(live)
    lists = [
        op.path
        for op in operations(schema)
        if op.method == "GET"
        and not op.path_ids
        and "health" not in op.tags
        and "admin" not in op.tags  # 403 for non-admins: tests/api/test_admin_console.py
        and op.path not in {"/api/jobs/events", "/api/auth/me"}
    ]
    assert {"/api/jobs", "/api/resumes", "/api/auth/tokens"} <= set(lists)
    async with signed_up(live, "a@example.com") as a, await live.user("b@example.com") as b:
        a_id = (await a.get("/api/auth/me")).json()["id"]
        job = (await submit(a)).json()
        token = (await a.post("/api/auth/tokens", json={})).json()
        for path in lists:
            for name in ("userId", "user_id", "owner_id"):
                response = await b.get(path, params={name: a_id})
                assert response.status_code == 200, path
                assert a_id not in response.text, path
                assert job["id"] not in response.text, path
                assert token["id"] not in response.text, path


async def test_event_stream_never_carries_another_users_events(live: LiveApp) -> None:
    """A2: B's stream, even asking for A by ?userId=, gets none of A's events as A's job runs."""
    async with signed_up(live, "a@example.com") as a, await live.user("b@example.com") as b:
        a_id = (await a.get("/api/auth/me")).json()["id"]
        params = {"userId": a_id, "user_id": a_id}
        async with b.stream("GET", "/api/jobs/events", params=params) as stream:
            assert stream.status_code == 200
            job = (await submit(a, inputData={"seconds": 0.3, "steps": 2})).json()
            received: list[str] = []
            with anyio.move_on_after(1.5):  # A's job starts, progresses and completes meanwhile
                async for line in stream.aiter_lines():
                    received.append(line)
        assert not [line for line in received if line.startswith("data:")]
        assert job["id"] not in "".join(received)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/jobs", {"jobType": "diagnostic.echo", "userId": "A"}),
        ("POST", "/api/jobs", {"jobType": "diagnostic.echo", "status": "completed"}),
        ("POST", "/api/jobs", {"jobType": "diagnostic.echo", "resultData": {"x": 1}}),
        ("PUT", "/api/job", {"url": "http://example.com/", "userId": "A"}),
        ("POST", "/api/auth/tokens", {"name": "x", "userId": "A"}),
        ("POST", "/api/auth/password", {"newPassword": "a fine new phrase", "userId": "A"}),
    ],
)
async def test_owner_and_status_fields_in_bodies_are_refused(
    live: LiveApp, method: str, path: str, body: dict[str, Any]
) -> None:
    """A3: a body naming userId, status or a result is a 422, and nothing is created."""
    async with signed_up(live, "a@example.com") as a, signed_up(live, "b@example.com") as b:
        a_id = (await a.get("/api/auth/me")).json()["id"]
        sent = {k: (a_id if v == "A" else v) for k, v in body.items()}
        response = await b.request(method, path, json=sent)
        assert response.status_code == 422, response.text
        assert (await b.get("/api/jobs")).json()["items"] == []
        assert (await a.get("/api/jobs")).json()["items"] == []
        assert (await a.get("/api/auth/tokens")).json() == []


async def test_every_private_route_needs_credentials(live: LiveApp) -> None:
    """A4: every route but sign-up, login and health answers 401 without credentials, the
    event stream included (a 401, not an open stream)."""
    schema = await openapi(live)
    checked = []
    async with browser(live) as anonymous:
        for operation in operations(schema):
            if (operation.method, operation.path) in PUBLIC or "health" in operation.tags:
                continue
            ids = {kind: str(uuid.uuid4()) for kind in READS | {"token": ""}}
            response = await call(anonymous, operation, ids)
            label = f"{operation.method} {operation.path}"
            assert response.status_code == 401, f"{label}: {response.status_code}"
            assert not response.headers.get("content-type", "").startswith("text/event-stream")
            checked.append(label)
    assert "GET /api/jobs/events" in checked
    assert len(checked) >= 20
