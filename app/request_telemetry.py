"""Per-request telemetry, as pure ASGI middleware (nothing is buffered, event streams included).

* A request id: a sane incoming ``X-Request-ID`` is kept, anything else replaced by a new one; it
  is echoed in the response and bound to the logging context, so whatever the request logs (a
  job's ``job.enqueued``, say) carries ``request_id``.
* ``atspro_http_request_duration_seconds`` by route *template* (``/api/jobs/{job_id}``, never the
  raw path, which would make one series per job); event streams are left out, their duration is
  how long a browser stayed.
* One ``http.request`` line per request (debug for health probes and scrapes, which would flood).
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logging import bind
from app.metrics import Metrics

log = logging.getLogger("atspro.http")

HEADER = "X-Request-ID"
SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
UNMATCHED = "<unmatched>"
MAX_PATH = 200  # the path is the client's: logged, but not at any length


def request_id(incoming: str | None) -> str:
    """The caller's id if it is short and plain (it goes into logs), else a fresh one."""
    if incoming is not None and SANE_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestTelemetry:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        rid = request_id(incoming)
        started = time.perf_counter()
        status = 500  # if the app raises before it answers
        streaming = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = list(message.get("headers", ()))
                headers = MutableHeaders(scope=message)
                headers[HEADER] = rid
                streaming = headers.get("content-type", "").startswith("text/event-stream")
            await send(message)

        with bind(request_id=rid):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                self._record(scope, status, streaming, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, streaming: bool, elapsed_s: float) -> None:
        matched = scope.get("route")
        # A mount at the root (the web app) has the empty path; nothing matched: one label.
        route = UNMATCHED if matched is None else getattr(matched, "path", None) or "/"
        method = scope["method"]
        if not streaming:
            self.metrics.http_duration.labels(method, route, str(status)).observe(elapsed_s)
        path: str = scope["path"][:MAX_PATH]
        level = logging.DEBUG if path in QUIET_PATHS else logging.INFO
        if log.isEnabledFor(level):
            log.log(
                level,
                "http.request",
                extra={
                    "method": method,
                    "route": route,
                    "path": path,
                    "status": status,
                    "duration_ms": round(elapsed_s * 1000, 2),
                },
            )
