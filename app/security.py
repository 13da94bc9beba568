"""Browser protections, as pure ASGI middleware (no response is buffered, SSE included).

* ``SecurityHeaders``: a CSP without inline script, ``nosniff``, no framing, no referrer, on
  every response.
* ``CsrfGuard``: writes (POST, PUT, PATCH, DELETE) that may ride on the session cookie must come
  from the app's own pages. Fetch Metadata first (``Sec-Fetch-Site``: ``same-origin`` or
  ``none``), ``Origin`` for browsers without it; a request with neither that carries cookies is
  refused. Requests with an ``Authorization`` header are exempt: a page on another site cannot
  send one without a CORS preflight, which this app never grants, and such a request is never
  authenticated by its cookie (app/deps.py).
* ``RevokedStreamCloser``: an open event stream re-checks its caller's credential every few
  seconds and ends once the session is signed out or the token revoked.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from contextlib import suppress
from typing import Any

import anyio
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.deps import REVALIDATE

log = logging.getLogger("atspro.security")

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAME_ORIGIN_SITES = frozenset({"same-origin", "none"})  # "none": typed or bookmarked by the user

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# FastAPI's Swagger page loads its bundle from a CDN and starts it with an inline script; it shows
# nothing users wrote, so it alone may.
DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net",
        "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net",
        "img-src 'self' data: https://fastapi.tiangolo.com",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
HSTS = "max-age=63072000; includeSubDomains"


class SecurityHeaders:
    """Adds the headers to each response as it starts; a header the route set is kept."""

    def __init__(self, app: ASGIApp, *, https: bool, docs_path: str | None = None) -> None:
        self.app = app
        self.docs_path = docs_path
        self.common = dict(COMMON_HEADERS)
        if https:  # development runs on plain http, where the header means nothing
            self.common["Strict-Transport-Security"] = HSTS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        policy = DOCS_CONTENT_SECURITY_POLICY if path == self.docs_path else CONTENT_SECURITY_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", ()))
                headers = MutableHeaders(scope=message)
                for name, value in self.common.items():
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", policy)
                if path.startswith("/api/"):
                    headers.setdefault("Cache-Control", "no-store")  # private answers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CsrfGuard:
    """Refuses cross-site writes that a browser would authenticate with the session cookie."""

    def __init__(self, app: ASGIApp, *, trusted_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.trusted_origins = frozenset(origin.rstrip("/") for origin in trusted_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS:
            headers = Headers(scope=scope)
            refusal = None if "authorization" in headers else self.refusal(scope, headers)
            if refusal is not None:
                log.warning(
                    "csrf.refused",
                    extra={"path": scope["path"], "method": scope["method"], "reason": refusal},
                )
                await _problem(send, 403, "Forbidden", refusal)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope, headers: Headers) -> str | None:
        """Why the request may not be from the app's own pages, or None when it is."""
        site = headers.get("sec-fetch-site")
        if site is not None:
            if site.lower() in SAME_ORIGIN_SITES:
                return None
            return f"A {site} request cannot change anything here"
        origin = headers.get("origin")
        if origin is not None:
            if origin.rstrip("/") in self.allowed_origins(scope, headers):
                return None
            return "A request from another origin cannot change anything here"
        if "cookie" in headers:
            return "The request does not say where it comes from (no Sec-Fetch-Site or Origin)"
        return None  # nothing ambient to abuse: no cookie, no authority

    def allowed_origins(self, scope: Scope, headers: Headers) -> frozenset[str]:
        host = headers.get("host", "")
        own = {f"{scope.get('scheme', 'http')}://{host}", f"https://{host}"}  # TLS at a proxy
        return self.trusted_origins | own


class RevokedStreamCloser:
    """Ends an event stream within ``every_s`` of its session or token being revoked.

    The route's auth dependency leaves a check in the request state (``REVALIDATE``). Once a
    ``text/event-stream`` response starts, a watcher runs it every ``every_s``; when it fails,
    the watcher ends the response cleanly and cancels the route. A reconnect then gets a 401.
    """

    def __init__(self, app: ASGIApp, *, every_s: float) -> None:
        self.app = app
        self.every_s = every_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: MutableMapping[str, Any] = scope.setdefault("state", {})
        sending = anyio.Lock()
        ended = False
        watcher: asyncio.Task[None] | None = None

        async def watch(check: Callable[[], Awaitable[bool]], route: anyio.CancelScope) -> None:
            nonlocal ended
            while True:
                # On a grid shared by every stream of the process: their checks then come in
                # the same loop iteration and share one query (app/lookups.py).
                await anyio.sleep(self.every_s - anyio.current_time() % self.every_s)
                try:
                    if not await check():
                        break
                except Exception:  # a backend blip must not end every open stream
                    log.warning("sse.recheck_failed", exc_info=True)
            async with sending:
                if ended:  # the route finished the response meanwhile
                    return
                ended = True
                with suppress(OSError):  # the client may be gone already
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
            log.info("sse.closed_revoked", extra={"path": scope["path"]})
            route.cancel()

        with anyio.CancelScope() as route:

            async def guarded_send(message: Message) -> None:
                nonlocal watcher, ended
                async with sending:
                    if ended:
                        return
                    check = state.get(REVALIDATE)
                    if watcher is None and check is not None and _starts_event_stream(message):
                        watcher = asyncio.get_running_loop().create_task(watch(check, route))
                    await send(message)
                    if message["type"] == "http.response.body" and not message.get("more_body"):
                        ended = True

            try:
                await self.app(scope, receive, guarded_send)
            finally:
                if watcher is not None:
                    watcher.cancel()


def _starts_event_stream(message: Message) -> bool:
    if message["type"] != "http.response.start":
        return False
    content_type = Headers(raw=list(message.get("headers", ()))).get("content-type", "")
    return content_type.startswith("text/event-stream")


async def _problem(send: Send, status: int, title: str, detail: str) -> None:
    body = json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
