"""``create_app(settings)``: routers for the process's mode, error handlers, lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.admin.monitor import QueueMonitor
from app.deps import close_built_services
from app.errors import AppError, Unavailable
from app.lifespan import lifespan
from app.metrics import Metrics
from app.request_telemetry import RequestTelemetry
from app.routes import admin, auth, entities, health, job, jobs, metrics, optimize, parse
from app.security import CsrfGuard, RevokedStreamCloser, SecurityHeaders
from app.settings import Mode, Settings
from app.web import serve_web

log = logging.getLogger("atspro.http")

MULTIPART_OVERHEAD = 64 * 1024
DOCS_PATH = "/api/docs"
QUEUE_MONITOR_PATH = "/admin/queues"  # SAQ's web UI, admins only


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with lifespan(app):
        try:
            yield
        finally:
            await close_built_services(app)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="ATSPro Jobs",
        version="0.1.0",
        lifespan=_lifespan,
        docs_url=DOCS_PATH,
        openapi_url="/api/openapi.json",
        redoc_url=None,
        # Bodies past the upload limit are cut off while they stream in (413), before anything
        # is spooled to disk; the parse route checks the file itself against the exact limit.
        max_body_size=settings.max_upload_bytes + MULTIPART_OVERHEAD,
    )
    app.state.settings = settings
    app.state.metrics = Metrics()  # this app's own registry (the lifespan hands it to services)
    app.include_router(health.router)
    app.include_router(metrics.router)
    if settings.mode is not Mode.WORKER:
        for module in (auth, jobs, parse, job, optimize, entities, admin):
            app.include_router(module.router)
        app.mount(QUEUE_MONITOR_PATH, QueueMonitor(QUEUE_MONITOR_PATH))
        serve_web(app, settings.web_dir)  # after every route: API paths are never shadowed
    _add_error_handlers(app)
    # The last added runs first: headers go on every answer, the CSRF refusal included.
    app.add_middleware(RevokedStreamCloser, every_s=settings.session_recheck_s)
    app.add_middleware(CsrfGuard, trusted_origins=settings.trusted_origins)
    app.add_middleware(SecurityHeaders, https=settings.session_cookie_secure, docs_path=DOCS_PATH)
    app.add_middleware(RequestTelemetry, metrics=app.state.metrics)  # outermost: every answer
    return app


def _problem(status: int, title: str, detail: str, **extra: object) -> dict[str, object]:
    return {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}


# A backend that is down or locked is the client's cue to retry later, not a server bug.
BACKEND_DOWN = (
    OperationalError,
    InterfaceError,
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
)


def _add_error_handlers(app: FastAPI) -> None:
    async def backend_down(request: Request, error: Exception) -> JSONResponse:
        log.warning(
            "http.backend_unavailable",
            extra={"path": request.url.path, "error": type(error).__name__},
        )
        return await app_error(request, Unavailable("A backend is unavailable; retry shortly"))

    for kind in BACKEND_DOWN:
        app.add_exception_handler(kind, backend_down)

    @app.exception_handler(AppError)
    async def app_error(_request: Request, error: AppError) -> JSONResponse:
        body = _problem(error.status_code, error.title, error.detail, **error.extra)
        return JSONResponse(
            body,
            status_code=error.status_code,
            headers=error.headers,
            media_type="application/problem+json",
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        title = HTTPStatus(error.status_code).phrase
        body = _problem(error.status_code, title, str(error.detail))
        return JSONResponse(
            body,
            status_code=error.status_code,
            headers=error.headers,
            media_type="application/problem+json",
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(item.get("loc", ())), "msg": item.get("msg"), "type": item.get("type")}
            for item in error.errors()
        ]
        first_loc: list[object] = errors[0]["loc"] if errors else []
        field = ".".join(str(part) for part in first_loc[1:]) or None
        message = errors[0]["msg"] if errors else "invalid request"
        body = _problem(422, "Invalid input", f"{field}: {message}", field=field, errors=errors)
        return JSONResponse(body, status_code=422, media_type="application/problem+json")
