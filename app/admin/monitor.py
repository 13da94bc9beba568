"""SAQ's web monitor at ``/admin/queues``, for admins, on every queue backend.

SAQ's page, script and styles are served as they ship (``saq.web.common.render``,
``saq/web/static``), on SAQ's own URL layout, so its single-page app works unchanged. What
``saq.web.starlette.saq_web`` does differently, and why it is not used as is:

* it keeps its queues and root path in module globals, so a second app in the same process
  (tests, or two apps on one server) would serve the first app's queues. Here each request reads
  the queues of the app it reached (``app.state.container``);
* it is a Starlette app, whose own error middleware would turn our problem responses into bare
  500s; this is a plain ``Router``, so errors reach the app's problem+json handlers;
* an unknown job is a ``ValueError`` there (a 500); here it is a 404;
* its static files exist only gzipped and 404 for a client that does not accept gzip; here they
  are decompressed for such a client;
* its Retry and Abort act on SAQ's queue alone, which our job table would then contradict (an
  abort of a running job would come back as a requeue; the reconciler would re-enqueue an aborted
  pending one). Here they go through the dead-letter console: Abort cancels our job (status
  ``cancelled`` plus its event), Retry runs a failed or cancelled job again. Both are audited.
  Queue entries that are not our jobs (none today) keep SAQ's own behaviour.

Only admins get in (``admin_of``): 401 without credentials, 403 for other users. The POST actions
pass the app's CSRF guard like every other write. The page starts with one inline script (the
root path), so its responses carry their own Content-Security-Policy allowing exactly that
script by hash; the app's strict policy stays in force everywhere else.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import mimetypes
import re
import uuid
from typing import Any, Literal

import anyio.to_thread
from saq import Queue
from saq.job import Job
from saq.web.common import STATIC_PATH, job_dict, render
from saq.web.starlette import GZStaticFiles
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.staticfiles import PathLike
from starlette.types import Receive, Scope, Send

from app.admin.access import admin_of
from app.admin.audit import AuditLog
from app.admin.console import DeadLetterConsole
from app.container import Container
from app.errors import NotFound
from app.models import User

ADMIN_KEY = "atspro_admin"
VIA = "queue monitor"
LISTED_JOBS = 100  # jobs on a queue's page (SAQ's page shows incomplete jobs only)


def content_security_policy(html: str) -> str:
    """The app's strict policy plus the page's inline scripts, each allowed by its hash."""
    hashes = [
        f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
        for body in re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    ]
    return "; ".join(
        [
            "default-src 'self'",
            " ".join(["script-src 'self'", *hashes]),
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class StaticAssets(GZStaticFiles):
    """SAQ's static files; the gzip-only ones are decompressed for clients without gzip."""

    def __init__(self) -> None:
        super().__init__(directory=STATIC_PATH)
        self._plain: dict[str, bytes] = {}

    async def get_response(self, path: PathLike, scope: Scope) -> Response:
        accepts_gzip = "gzip" in Headers(scope=scope).get("accept-encoding", "")
        name = str(path)
        if not accepts_gzip:
            body = self._plain.get(name)
            if body is None:
                _path, found = await anyio.to_thread.run_sync(self.lookup_path, name)
                packed, packed_found = await anyio.to_thread.run_sync(
                    self.lookup_path, name + ".gz"
                )
                if found is None and packed_found is not None:
                    raw = await anyio.Path(packed).read_bytes()
                    body = self._plain[name] = gzip.decompress(raw)
            if body is not None:
                media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
                return Response(body, media_type=media_type, headers={"Vary": "Accept-Encoding"})
        response = await super().get_response(path, scope)
        response.headers["Vary"] = "Accept-Encoding"
        return response


class QueueMonitor:
    """The ASGI app mounted at ``root_path``."""

    def __init__(self, root_path: str) -> None:
        self.root_path = root_path
        self.html = render(root_path=root_path)
        self.policy = content_security_policy(self.html)
        self.router = Router(
            routes=[
                Route("/", self.page),
                Route("/queues/{queue}", self.page),
                Route("/queues/{queue}/jobs/{job}", self.page),
                Route("/api/queues", self.queues),
                Route("/api/queues/{queue}", self.queue),
                Route("/api/queues/{queue}/jobs/{job}", self.job),
                Route("/api/queues/{queue}/jobs/{job}/retry", self.retry, methods=["POST"]),
                Route("/api/queues/{queue}/jobs/{job}/abort", self.abort, methods=["POST"]),
                Mount("/static", StaticAssets()),
                Route("/health", self.health),
            ]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.router(scope, receive, send)
            return
        admin = await admin_of(Request(scope, receive))
        scope.setdefault("state", {})[ADMIN_KEY] = admin
        policy = self.policy.encode()

        async def send_with_policy(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", ()) if k != b"content-security-policy"
                ]
                message["headers"] = [*headers, (b"content-security-policy", policy)]
            await send(message)

        await self.router(scope, receive, send_with_policy)

    # --- pages and SAQ's JSON API ------------------------------------------------------------

    async def page(self, _request: Request) -> Response:
        return Response(self.html, media_type="text/html")

    async def queues(self, request: Request) -> JSONResponse:
        return JSONResponse({"queues": [await q.info() for q in _queues(request).values()]})

    async def queue(self, request: Request) -> JSONResponse:
        info = await _queue(request).info(jobs=True, limit=LISTED_JOBS)
        # SAQ's PostgresQueue ignores the limit and returns every incomplete job.
        info["jobs"] = info["jobs"][:LISTED_JOBS]
        return JSONResponse({"queue": info})

    async def job(self, request: Request) -> JSONResponse:
        return JSONResponse({"job": job_dict(await _saq_job(request))})

    async def health(self, request: Request) -> Response:
        for queue in _queues(request).values():
            await queue.info()
        return PlainTextResponse("OK")

    # --- actions, through our job table ------------------------------------------------------

    async def retry(self, request: Request) -> JSONResponse:
        return await _act(request, "retry")

    async def abort(self, request: Request) -> JSONResponse:
        return await _act(request, "abort")


async def _act(request: Request, action: Literal["retry", "abort"]) -> JSONResponse:
    """The monitor's Retry or Abort: on one of our jobs through the console (job table, events and
    audit agree); on a queue entry with no job of ours, as SAQ's own UI would, audited."""
    saq_job = await _saq_job(request)
    console, admin, job_id = _console(request), _admin(request), _our_job_id(saq_job)
    if job_id is not None and await console.exists(job_id):
        change = console.retry if action == "retry" else console.cancel
        await change(admin, job_id, via=VIA)
        return JSONResponse({})
    if action == "retry":
        await saq_job.retry("retried from ui")
    else:
        await saq_job.abort("aborted from ui")
    await console.audit.record(admin, f"queue.{action}", saq_job.key, {"via": VIA})
    return JSONResponse({})


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _queues(request: Request) -> dict[str, Queue]:
    return _container(request).queues


def _queue(request: Request) -> Queue:
    name = request.path_params["queue"]
    queue = _queues(request).get(name)
    if queue is None:
        raise NotFound(f"queue {name} not found")
    return queue


async def _saq_job(request: Request) -> Job:
    key = request.path_params["job"]
    job = await _queue(request).job(key)
    if job is None:
        raise NotFound(f"job {key} not found in queue {request.path_params['queue']}")
    return job


def _console(request: Request) -> DeadLetterConsole:
    container = _container(request)
    return DeadLetterConsole(container.db, container.jobs, AuditLog(container.db))


def _admin(request: Request) -> User:
    admin: User = request.scope["state"][ADMIN_KEY]
    return admin


def _our_job_id(saq_job: Job) -> uuid.UUID | None:
    """Our jobs are enqueued with key = job id and ``job_id`` in their kwargs."""
    try:
        return uuid.UUID(str((saq_job.kwargs or {}).get("job_id", saq_job.key)))
    except ValueError:
        return None
