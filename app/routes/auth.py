"""Accounts: sign-up, sign-in and out (a session cookie), the caller, password, API tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Request, Response, status
from pydantic import Field

from app.deps import AppSettings, Auth, CurrentUser, Limits, Sessions
from app.errors import NotFound, Unauthorized
from app.models import User
from app.schemas import ApiInput, ApiModel
from app.settings import Settings

router = APIRouter(prefix="/api/auth", tags=["auth"])

# Longer than any password the policy accepts, short enough that nobody hashes a megabyte.
PASSWORD_FIELD_MAX = 1024


class Credentials(ApiInput):
    email: str = Field(min_length=1, max_length=320, examples=["me@example.com"])
    password: str = Field(min_length=1, max_length=PASSWORD_FIELD_MAX)


class PasswordChange(ApiInput):
    current_password: str = Field(
        default="",
        max_length=PASSWORD_FIELD_MAX,
        description="Required once the account has a password",
    )
    new_password: str = Field(min_length=1, max_length=PASSWORD_FIELD_MAX)


class Account(ApiModel):
    id: uuid.UUID
    email: str
    is_admin: bool
    created_at: datetime


class TokenCreate(ApiInput):
    name: str = Field(default="", max_length=100, examples=["laptop script"])


class TokenRead(ApiModel):
    id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="The token itself: shown this once, never again")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def set_session_cookie(response: Response, settings: Settings, session_id: str) -> None:
    response.set_cookie(
        settings.session_cookie_name,
        session_id,
        max_age=int(settings.session_max_age_s),
        path="/",
        secure=settings.session_cookie_secure,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        settings.session_cookie_name,
        path="/",
        secure=settings.session_cookie_secure,
        httponly=True,
        samesite="lax",
    )


def account(user: User) -> Account:
    return Account.model_validate(user)


@router.post("/signup", status_code=status.HTTP_201_CREATED, response_model=Account)
async def signup(
    body: Credentials,
    request: Request,
    response: Response,
    auth: Auth,
    sessions: Sessions,
    limits: Limits,
    settings: AppSettings,
) -> Account:
    """Create an account with a password and sign in (the session cookie is set)."""
    if not settings.allow_signup:
        raise NotFound("Sign-up is closed; ask an administrator for an account")
    await limits.hit(limits.login_address, client_address(request))
    user, session_id = await auth.signup(body.email, body.password)
    if previous := request.cookies.get(settings.session_cookie_name):
        await sessions.end(previous)
    set_session_cookie(response, settings, session_id)
    return account(user)


@router.post("/login", response_model=Account)
async def login(
    body: Credentials,
    request: Request,
    response: Response,
    auth: Auth,
    sessions: Sessions,
    limits: Limits,
    settings: AppSettings,
) -> Account:
    """Sign in: a new session id in the cookie (the browser's previous session ends)."""
    await limits.hit(limits.login_address, client_address(request))
    await limits.hit(limits.login_account, body.email.strip().lower())
    user = await auth.check_password(body.email, body.password)
    if user is None:
        raise Unauthorized("The email or password is wrong")
    previous = request.cookies.get(settings.session_cookie_name)
    set_session_cookie(response, settings, await sessions.start(user.id, replacing=previous))
    return account(user)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    request: Request, response: Response, sessions: Sessions, settings: AppSettings
) -> None:
    """Sign out: the session ends on the server and the cookie is cleared (an ended session
    too, so a browser can always clear its cookie)."""
    session_id = request.cookies.get(settings.session_cookie_name)
    if not session_id:
        raise Unauthorized("Not signed in")
    await sessions.end(session_id)
    clear_session_cookie(response, settings)


@router.get("/me", response_model=Account)
async def me(user: CurrentUser) -> Account:
    return account(user)


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    body: PasswordChange,
    request: Request,
    response: Response,
    user: CurrentUser,
    auth: Auth,
    sessions: Sessions,
    limits: Limits,
    settings: AppSettings,
) -> None:
    """Change the password: every browser session ends; this browser gets a new one."""
    await limits.hit(limits.login_account, user.email)
    await auth.change_password(user, body.current_password, body.new_password)
    signed_in_by_cookie = "authorization" not in request.headers
    if signed_in_by_cookie:
        set_session_cookie(response, settings, await sessions.start(user.id))


@router.get("/tokens", response_model=list[TokenRead])
async def list_tokens(user: CurrentUser, auth: Auth) -> list[TokenRead]:
    return [TokenRead.model_validate(row) for row in await auth.list_tokens(user.id)]


@router.post("/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenCreated)
async def create_token(body: TokenCreate, user: CurrentUser, auth: Auth) -> TokenCreated:
    row, token = await auth.issue_token(user.id, body.name)
    return TokenCreated(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        token=token,
    )


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(token_id: uuid.UUID, user: CurrentUser, auth: Auth) -> None:
    await auth.revoke_token(user.id, token_id)
