"""FastAPI dependencies: what a route may ask for, as ``Annotated`` aliases.

The caller is found from an ``Authorization: Bearer`` API token (scripts) or, without that header,
from the session cookie (browsers); both give the same ``CurrentUser``. A request that names a
bearer token is never also taken as its cookie: the CSRF guard exempts bearer requests, so they
must not carry cookie authority.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPBearer

from app.auth import AuthService
from app.container import Container
from app.entities.service import EntityService
from app.errors import Forbidden, Unauthorized
from app.jobs.service import JobService
from app.models import User
from app.ratelimit import RateLimits
from app.sessions import SessionService
from app.settings import Settings

T = TypeVar("T")

# For the OpenAPI schema only: current_user reads the header itself.
_bearer = HTTPBearer(auto_error=False, description="An API token from `atspro token create`")

# The request state key under which the caller's credential check is kept: an open SSE stream
# runs it every few seconds and ends when it fails (app/security.py).
REVALIDATE = "atspro_revalidate"


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_jobs(request: Request) -> JobService:
    return get_container(request).jobs


def get_entities(request: Request) -> EntityService:
    return get_container(request).entities


def get_auth(request: Request) -> AuthService:
    return get_container(request).auth


def _built(request: Request, name: str, build: Callable[[Container, Settings], T]) -> T:
    """A service built on first use from this lifespan's container and the settings (the
    composition root does not build these yet); closed by ``close_built_services``."""
    container = get_container(request)
    state = request.app.state
    if getattr(state, "built_services", None) is None:
        state.built_services = {}
    built: dict[str, tuple[Container, Any]] = state.built_services
    found = built.get(name)
    if found is None or found[0] is not container:
        found = built[name] = (container, build(container, get_settings(request)))
    service: T = found[1]
    return service


async def close_built_services(app: FastAPI) -> None:
    built: dict[str, tuple[Container, Any]] = getattr(app.state, "built_services", None) or {}
    app.state.built_services = {}
    for _container, service in built.values():
        close: Callable[[], Awaitable[None]] | None = getattr(service, "aclose", None)
        if close is not None:
            await close()


def get_sessions(request: Request) -> SessionService:
    return _built(
        request,
        "sessions",
        lambda container, settings: SessionService(
            container.db,
            idle_s=settings.session_idle_s,
            max_age_s=settings.session_max_age_s,
        ),
    )


def get_rate_limits(request: Request) -> RateLimits:
    return _built(request, "rate_limits", lambda _container, settings: RateLimits(settings))


async def current_user(request: Request, _documented: Annotated[Any, Depends(_bearer)]) -> User:
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Send `Authorization: Bearer <API token>`")
        token = token.strip()
        auth = get_auth(request)
        user = await auth.authenticate(token)
        if user is None:
            raise Unauthorized("The API token is unknown or revoked")
        setattr(request.state, REVALIDATE, lambda: auth.token_is_active(token))
        return user
    session_id = request.cookies.get(get_settings(request).session_cookie_name)
    if session_id:
        sessions = get_sessions(request)
        user = await sessions.resolve(session_id)
        if user is not None:
            setattr(request.state, REVALIDATE, lambda: sessions.is_active(session_id))
            return user
        raise Unauthorized("The session has ended; sign in again")
    raise Unauthorized("Sign in, or send an API token")


async def current_admin(user: Annotated[User, Depends(current_user)]) -> User:
    """An admin, for the operations views. A signed-in user who is not one gets a 403 (so an
    operator signed in with the wrong account is told so); no credentials stay a 401."""
    if not user.is_admin:
        raise Forbidden("Only admins may use the operations views")
    return user


async def submitting_user(request: Request, user: Annotated[User, Depends(current_user)]) -> User:
    """The caller, counted against ``ATSPRO_RATE_LIMIT_SUBMIT`` (a job submission)."""
    limits = get_rate_limits(request)
    await limits.hit(limits.submit, str(user.id))
    return user


Jobs = Annotated[JobService, Depends(get_jobs)]
Entities = Annotated[EntityService, Depends(get_entities)]
Auth = Annotated[AuthService, Depends(get_auth)]
Sessions = Annotated[SessionService, Depends(get_sessions)]
Limits = Annotated[RateLimits, Depends(get_rate_limits)]
AppSettings = Annotated[Settings, Depends(get_settings)]
CurrentUser = Annotated[User, Depends(current_user)]
CurrentAdmin = Annotated[User, Depends(current_admin)]
Submitter = Annotated[User, Depends(submitting_user)]
AppContainer = Annotated[Container, Depends(get_container)]
