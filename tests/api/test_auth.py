"""Accounts over HTTP: sign-up, sign-in, sign-out, the caller, password change, API tokens,
and a login that takes as long for an unknown account as for a known one."""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.deps import CurrentAdmin
from app.settings import Settings
from tests.conftest import LiveApp
from tests.fixtures.accounts import (
    PASSWORD,
    browser,
    cookie_value,
    session_cookie,
    signed_up,
    submit,
)

TIMING_ROUNDS = 7


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def stored(live: LiveApp, sql: str, **params: Any) -> list[Any]:
    return await live.container.db.read(lambda c: list(c.execute(text(sql), params).all()))


async def test_signup_signs_in_and_me_names_the_account(live: LiveApp) -> None:
    """Sign-up answers 201 with the account, sets the session cookie, and /me knows the caller."""
    async with browser(live) as client:
        response = await client.post(
            "/api/auth/signup", json={"email": " New@Example.com ", "password": PASSWORD}
        )
        assert response.status_code == 201, response.text
        assert response.json()["email"] == "new@example.com"
        assert response.json()["isAdmin"] is False
        me = await client.get("/api/auth/me")
        assert me.status_code == 200
        assert me.json() == response.json()
        assert (await submit(client)).status_code == 202


async def test_password_is_stored_as_argon2id(live: LiveApp) -> None:
    """A8: The users table holds an Argon2id hash, never the password."""
    async with signed_up(live, "hash@example.com"):
        [(stored_hash,)] = await stored(
            live, "SELECT password_hash FROM users WHERE email = :e", e="hash@example.com"
        )
    assert stored_hash.startswith("$argon2id$")
    assert PASSWORD not in stored_hash


async def test_signup_refuses_a_taken_email_and_extra_fields(live: LiveApp) -> None:
    """A3: A second sign-up with the same email is a 409; isAdmin in the body is refused (422)."""
    async with signed_up(live, "taken@example.com"), browser(live) as other:
        again = await other.post(
            "/api/auth/signup", json={"email": "TAKEN@example.com", "password": PASSWORD}
        )
        assert again.status_code == 409
        admin = await other.post(
            "/api/auth/signup",
            json={"email": "sneaky@example.com", "password": PASSWORD, "isAdmin": True},
        )
        assert admin.status_code == 422


@pytest.mark.parametrize(
    ("password", "reason"),
    [("short12", "at least 8"), ("password1", "too common"), ("x" * 300, "at most")],
)
async def test_signup_enforces_the_password_policy(
    live: LiveApp, password: str, reason: str
) -> None:
    """A8: Too short, common and too long passwords are refused with a 422 naming the field."""
    async with browser(live) as client:
        response = await client.post(
            "/api/auth/signup", json={"email": "policy@example.com", "password": password}
        )
    assert response.status_code == 422
    assert response.json()["field"] == "password"
    assert reason in response.json()["detail"]


async def test_signup_can_be_closed(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> None:
    """With ATSPRO_ALLOW_SIGNUP=false sign-up is a 404 and no account is made."""
    async for live in serve(make_settings(allow_signup=False)):
        async with browser(live) as client:
            response = await client.post(
                "/api/auth/signup", json={"email": "closed@example.com", "password": PASSWORD}
            )
        assert response.status_code == 404
        assert await stored(live, "SELECT id FROM users") == []


async def test_login_with_wrong_password_or_unknown_email_is_the_same_401(live: LiveApp) -> None:
    """A7: A wrong password and an unknown email get the same 401 answer, and no cookie."""
    async with signed_up(live, "known@example.com"), browser(live) as client:
        wrong = await login(client, "known@example.com", "not the password")
        unknown = await login(client, "nobody@example.com", "not the password")
        malformed = await login(client, "not-an-email", "not the password")
    for response in (wrong, unknown, malformed):
        assert response.status_code == 401
        assert "set-cookie" not in response.headers
    assert wrong.json() == unknown.json() == malformed.json()


async def test_login_then_logout(live: LiveApp) -> None:
    """A6: Login signs in (cookie), logout ends the session and clears the cookie; then 401."""
    async with signed_up(live, "inout@example.com"), browser(live) as client:
        response = await login(client, "inout@example.com")
        assert response.status_code == 200
        assert response.json()["email"] == "inout@example.com"
        assert (await client.get("/api/auth/me")).status_code == 200
        cookie = client.cookies.get("atspro_session")
        out = await client.post("/api/auth/logout")
        assert out.status_code == 204
        assert "Max-Age=0" in session_cookie(out)
        assert (await client.get("/api/auth/me")).status_code == 401
        async with browser(live) as replay:  # the old id, replayed, signs nobody in
            replay.cookies.set("atspro_session", cookie or "")
            assert (await replay.get("/api/auth/me")).status_code == 401
        assert (await client.post("/api/auth/logout")).status_code == 401


async def test_password_change_ends_every_session_but_not_api_tokens(live: LiveApp) -> None:
    """Changing the password revokes all sessions, gives this browser a new one, keeps tokens."""
    new_password = "a whole new phrase 7"
    async with (
        signed_up(live, "change@example.com") as first,
        browser(live) as second,
    ):
        assert (await login(second, "change@example.com")).status_code == 200
        token = (await first.post("/api/auth/tokens", json={"name": "script"})).json()["token"]
        old_cookie = first.cookies.get("atspro_session")

        wrong = await first.post(
            "/api/auth/password",
            json={"currentPassword": "not it at all", "newPassword": new_password},
        )
        assert wrong.status_code == 422
        assert wrong.json()["field"] == "currentPassword"

        changed = await first.post(
            "/api/auth/password", json={"currentPassword": PASSWORD, "newPassword": new_password}
        )
        assert changed.status_code == 204
        assert cookie_value(session_cookie(changed)) != old_cookie
        assert (await first.get("/api/auth/me")).status_code == 200
        assert (await second.get("/api/auth/me")).status_code == 401
        assert (await login(second, "change@example.com")).status_code == 401
        assert (await login(second, "change@example.com", new_password)).status_code == 200
    async with httpx.AsyncClient(
        base_url=live.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as script:
        assert (await script.get("/api/auth/me")).status_code == 200


async def test_new_password_follows_the_policy(live: LiveApp) -> None:
    """A common new password is refused with a 422 naming newPassword."""
    async with signed_up(live, "weak@example.com") as client:
        response = await client.post(
            "/api/auth/password", json={"currentPassword": PASSWORD, "newPassword": "iloveyou1"}
        )
    assert response.status_code == 422
    assert response.json()["field"] == "newPassword"


async def test_cli_user_sets_a_first_password_with_its_token(live: LiveApp) -> None:
    """A user made by the CLI (no password) sets one with its API token, then can sign in."""
    async with await live.user("cli@example.com", admin=True) as script, browser(live) as client:
        assert (await login(client, "cli@example.com", "")).status_code == 422
        assert (await login(client, "cli@example.com", "anything at all")).status_code == 401
        response = await script.post("/api/auth/password", json={"newPassword": PASSWORD})
        assert response.status_code == 204
        assert "set-cookie" not in response.headers  # a bearer request gets no session
        signed_in = await login(client, "cli@example.com")
        assert signed_in.status_code == 200
        assert signed_in.json()["isAdmin"] is True


async def test_api_tokens_are_shown_once_listed_and_revoked(live: LiveApp) -> None:
    """A new token is shown once, listed without its secret, works, and stops after DELETE."""
    async with signed_up(live, "tokens@example.com") as client:
        created = await client.post("/api/auth/tokens", json={"name": "ci"})
        assert created.status_code == 201
        token = created.json()["token"]
        assert token.startswith("atp_")
        listed = (await client.get("/api/auth/tokens")).json()
        assert [entry["name"] for entry in listed] == ["ci"]
        assert "token" not in listed[0]
        assert token not in str(listed)
        async with httpx.AsyncClient(
            base_url=live.base_url, headers={"Authorization": f"Bearer {token}"}
        ) as script:
            assert (await script.get("/api/auth/me")).json()["email"] == "tokens@example.com"
            revoked = await client.delete(f"/api/auth/tokens/{created.json()['id']}")
            assert revoked.status_code == 204
            assert (await script.get("/api/auth/me")).status_code == 401
        assert (await client.get("/api/auth/tokens")).json() == []
        again = await client.delete(f"/api/auth/tokens/{created.json()['id']}")
        assert again.status_code == 404


async def test_bearer_and_cookie_resolve_to_the_same_user(live: LiveApp) -> None:
    """A browser session and an API token of one account see the same jobs."""
    async with signed_up(live, "both@example.com") as client:
        token = (await client.post("/api/auth/tokens", json={})).json()["token"]
        job = (await submit(client)).json()
        async with httpx.AsyncClient(
            base_url=live.base_url, headers={"Authorization": f"Bearer {token}"}
        ) as script:
            assert (await script.get(f"/api/jobs/{job['id']}")).status_code == 200
            me = (await script.get("/api/auth/me")).json()
        assert me == (await client.get("/api/auth/me")).json()


async def test_bad_authorization_header_is_not_rescued_by_the_cookie(live: LiveApp) -> None:
    """A request with a bad Authorization header is a 401 even with a valid session cookie."""
    async with signed_up(live, "mixed@example.com") as client:
        for header in ("Bearer atp_nope", "Basic dXNlcjpwYXNz", "Bearer"):
            response = await client.get("/api/auth/me", headers={"Authorization": header})
            assert response.status_code == 401, header


async def test_admin_guard_hides_ops_views_from_other_users(live: LiveApp) -> None:
    """A route guarded by CurrentAdmin answers admins, is a 403 for other users, a 401 without
    credentials."""

    async def ops_view(admin: CurrentAdmin) -> dict[str, str]:
        return {"admin": admin.email}

    live.app.add_api_route("/api/test-ops", ops_view, methods=["GET"])
    async with (
        await live.user("ops@example.com", admin=True) as admin,
        await live.user("plain@example.com") as plain,
        browser(live) as anonymous,
    ):
        assert (await admin.get("/api/test-ops")).json() == {"admin": "ops@example.com"}
        assert (await plain.get("/api/test-ops")).status_code == 403
        assert (await anonymous.get("/api/test-ops")).status_code == 401


async def test_session_ids_are_random_and_stored_hashed(live: LiveApp) -> None:
    """A6: The cookie carries 256 random bits; the database keeps only their SHA-256."""
    async with signed_up(live, "sid@example.com") as client:
        session_id = client.cookies.get("atspro_session") or ""
    assert len(session_id) >= 43  # 32 bytes, base64url
    rows = await stored(live, "SELECT token_hash FROM user_sessions")
    assert [row[0] for row in rows] == [hashlib.sha256(session_id.encode()).hexdigest()]


async def test_login_time_does_not_reveal_whether_an_account_exists(
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], AsyncIterator[LiveApp]],
) -> None:
    """A7: Failed logins for a known and an unknown email take about as long (medians within 3x;
    without the dummy hash an unknown email would answer some 50x faster)."""
    settings = make_settings(rate_limit_login="off", rate_limit_login_ip="off")
    async for live in serve(settings):
        async with signed_up(live, "timed@example.com"), browser(live) as client:
            await login(client, "nobody@example.com", "warm up the path")
            known: list[float] = []
            unknown: list[float] = []
            for _ in range(TIMING_ROUNDS):  # interleaved, so background load hits both alike
                for email, samples in (("timed@example.com", known), ("nobody@ex.com", unknown)):
                    started = time.perf_counter()
                    response = await login(client, email, "wrong password here")
                    samples.append(time.perf_counter() - started)
                    assert response.status_code == 401
        ratio = statistics.median(unknown) / statistics.median(known)
        assert 1 / 3 < ratio < 3, (known, unknown)


async def test_accounts_work_on_postgres(
    migrated_postgres: str,
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], AsyncIterator[LiveApp]],
) -> None:
    """Sign-up, login, tokens, password change and logout behave the same on PostgreSQL."""
    async for live in serve(make_settings(database_url=migrated_postgres)):
        async with signed_up(live, "pg@example.com") as client, browser(live) as other:
            assert (await login(other, "pg@example.com")).status_code == 200
            created = (await client.post("/api/auth/tokens", json={"name": "pg"})).json()
            assert (await client.delete(f"/api/auth/tokens/{created['id']}")).status_code == 204
            assert (await client.delete(f"/api/auth/tokens/{created['id']}")).status_code == 404
            changed = await client.post(
                "/api/auth/password",
                json={"currentPassword": PASSWORD, "newPassword": "postgres phrase 99"},
            )
            assert changed.status_code == 204
            assert (await other.get("/api/auth/me")).status_code == 401
            assert (await client.post("/api/auth/logout")).status_code == 204
            assert (await client.get("/api/auth/me")).status_code == 401
