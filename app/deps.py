"""FastAPI dependencies: what a route may ask for, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth import AuthService
from app.container import Container
from app.entities.service import EntityService
from app.errors import Unauthorized
from app.jobs.service import JobService
from app.models import User

_bearer = HTTPBearer(auto_error=False, description="An API token from `atspro token create`")


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def get_jobs(request: Request) -> JobService:
    return get_container(request).jobs


def get_entities(request: Request) -> EntityService:
    return get_container(request).entities


def get_auth(request: Request) -> AuthService:
    return get_container(request).auth


async def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized()
    user = await get_auth(request).authenticate(credentials.credentials)
    if user is None:
        raise Unauthorized("The API token is unknown or revoked")
    return user


Jobs = Annotated[JobService, Depends(get_jobs)]
Entities = Annotated[EntityService, Depends(get_entities)]
CurrentUser = Annotated[User, Depends(current_user)]
AppContainer = Annotated[Container, Depends(get_container)]
