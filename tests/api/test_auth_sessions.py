"""Session hygiene (A6): cookie attributes, rotation at sign-in, expiry, and open event streams
that end once their session or token is revoked."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import event

from app.sessions import SessionService
from app.settings import Settings
from tests.conftest import LiveApp, read_sse
from tests.fixtures.accounts import PASSWORD, browser, cookie_value, session_cookie, signed_up


def attributes(set_cookie: str) -> dict[str, str]:
    """The cookie's attributes, lower-cased names (flags map to "")."""
    _pair, *rest = set_cookie.split(";")
    found = {}
    for part in rest:
        name, _, value = part.strip().partition("=")
        found[name.lower()] = value
    return found


async def test_production_cookie_is_host_prefixed_secure_httponly_lax(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> None:
    """A6: In production the session cookie is __Host-, Secure, HttpOnly, SameSite=Lax, Path=/,
    without a Domain, and it signs the browser in."""
    async for live in serve(make_settings(env="production")):
        async with browser(live) as client:
            response = await client.post(
                "/api/auth/signup", json={"email": "prod@example.com", "password": PASSWORD}
            )
            assert response.status_code == 201
            set_cookie = session_cookie(response)
            assert set_cookie.startswith("__Host-atspro_session=")
            found = attributes(set_cookie)
            assert {"secure", "httponly", "path", "samesite", "max-age"} <= found.keys()
            assert found["path"] == "/"
            assert found["samesite"].lower() == "lax"
            assert "domain" not in found
            # httpx keeps Secure cookies off plain http, so send it as the browser would.
            me = await client.get(
                "/api/auth/me",
                headers={"Cookie": f"__Host-atspro_session={cookie_value(set_cookie)}"},
            )
            assert me.status_code == 200
            assert me.json()["email"] == "prod@example.com"


async def test_development_cookie_works_over_plain_http(live: LiveApp) -> None:
    """With ATSPRO_ENV=development the cookie has no __Host- prefix and no Secure flag, and is
    still HttpOnly and SameSite=Lax."""
    async with browser(live) as client:
        response = await client.post(
            "/api/auth/signup", json={"email": "dev@example.com", "password": PASSWORD}
        )
        set_cookie = session_cookie(response)
        assert set_cookie.startswith("atspro_session=")
        found = attributes(set_cookie)
        assert "secure" not in found
        assert "httponly" in found
        assert found["samesite"].lower() == "lax"
        assert (await client.get("/api/auth/me")).status_code == 200


async def test_login_rotates_the_session_id(live: LiveApp) -> None:
    """A6: Each sign-in makes a new session id and ends the one the browser had."""
    async with signed_up(live, "rotate@example.com") as client:
        before = client.cookies.get("atspro_session")
        response = await client.post(
            "/api/auth/login", json={"email": "rotate@example.com", "password": PASSWORD}
        )
        after = cookie_value(session_cookie(response))
        assert after != before
        assert (await client.get("/api/auth/me")).status_code == 200
        async with browser(live) as replay:
            replay.cookies.set("atspro_session", before or "")
            assert (await replay.get("/api/auth/me")).status_code == 401


async def test_planted_session_id_is_never_adopted(live: LiveApp) -> None:
    """A6: A session id set before sign-in (session fixation) is replaced, and signs nobody in."""
    async with signed_up(live, "fixate@example.com"), browser(live) as victim:
        planted = "attacker-chosen-value-0123456789abcdef"
        victim.cookies.set("atspro_session", planted)
        assert (await victim.get("/api/auth/me")).status_code == 401
        response = await victim.post(
            "/api/auth/login", json={"email": "fixate@example.com", "password": PASSWORD}
        )
        assert cookie_value(session_cookie(response)) != planted


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def clocked(live: LiveApp) -> tuple[SessionService, Clock, uuid.UUID]:
    """Sessions on the live database with a clock the test moves: idle 30 min, max 8 h."""
    clock = Clock()
    service = SessionService(live.container.db, idle_s=1800, max_age_s=8 * 3600, clock=clock)
    user, _token = await live.container.auth.create_user(f"{uuid.uuid4().hex}@example.com")
    return service, clock, user.id


async def test_idle_session_expires(clocked: tuple[SessionService, Clock, uuid.UUID]) -> None:
    """A6: A session unused for the idle timeout no longer signs in; used in time, it lives on."""
    service, clock, user_id = clocked
    session_id = await service.start(user_id)
    clock.now += timedelta(minutes=29)
    assert await service.resolve(session_id) is not None  # use resets the idle timer
    clock.now += timedelta(minutes=29)
    assert await service.resolve(session_id) is not None
    clock.now += timedelta(minutes=31)
    assert await service.resolve(session_id) is None
    assert await service.is_active(session_id) is False


async def test_session_expires_at_its_absolute_age_however_used(
    clocked: tuple[SessionService, Clock, uuid.UUID],
) -> None:
    """A6: A session used every 20 minutes still ends at its maximum age."""
    service, clock, user_id = clocked
    session_id = await service.start(user_id)
    for _ in range(23):  # 7 h 40 min
        clock.now += timedelta(minutes=20)
        assert await service.resolve(session_id) is not None
    clock.now += timedelta(minutes=21)
    assert await service.resolve(session_id) is None


async def test_checking_a_stream_does_not_keep_a_session_alive(
    clocked: tuple[SessionService, Clock, uuid.UUID],
) -> None:
    """The stream's re-check reads the session without counting as use of it."""
    service, clock, user_id = clocked
    session_id = await service.start(user_id)
    for _ in range(5):
        clock.now += timedelta(minutes=5)
        assert await service.is_active(session_id)
    clock.now += timedelta(minutes=6)
    assert await service.resolve(session_id) is None


async def test_expiry_comes_from_the_settings(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> None:
    """ATSPRO_SESSION_MAX_AGE_S bounds the cookie and the server-side session alike."""
    async for live in serve(make_settings(session_max_age_s=1.0)):
        async with signed_up(live, "short@example.com") as client:
            assert (await client.get("/api/auth/me")).status_code == 200
            await anyio.sleep(1.2)
            assert (await client.get("/api/auth/me")).status_code == 401


@pytest.fixture
async def live_recheck(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> AsyncIterator[LiveApp]:
    async for live in serve(make_settings(session_recheck_s=0.2, sse_ping_s=30.0)):
        yield live


async def ends_within(stream: httpx.Response, seconds: float) -> None:
    """Read the stream until the server ends it; fail if it is still open after ``seconds``."""
    with anyio.fail_after(seconds):
        async for _ in stream.aiter_lines():
            pass


async def test_stream_of_a_signed_out_session_closes(live_recheck: LiveApp) -> None:
    """E7: An open event stream ends within seconds of its session signing out; reconnecting is a
    401, and the stream leaves no subscription behind."""
    live = live_recheck
    async with signed_up(live, "stream@example.com") as client:
        async with client.stream("GET", "/api/jobs/events") as stream:
            assert stream.status_code == 200
            async with browser(live) as other_tab:
                other_tab.cookies = client.cookies
                assert (await other_tab.post("/api/auth/logout")).status_code == 204
            await ends_within(stream, 5)
        again = await client.get("/api/jobs/events")
        assert again.status_code == 401
        with anyio.fail_after(5):
            while live.container.bus.subscriber_count:
                await anyio.sleep(0.05)


async def test_stream_of_a_revoked_token_closes(live_recheck: LiveApp) -> None:
    """E7: A script's event stream ends within seconds of its API token being revoked."""
    live = live_recheck
    async with signed_up(live, "tokstream@example.com") as client:
        created = (await client.post("/api/auth/tokens", json={"name": "watcher"})).json()
        async with httpx.AsyncClient(
            base_url=live.base_url, headers={"Authorization": f"Bearer {created['token']}"}
        ) as script:
            async with script.stream("GET", "/api/jobs/events") as stream:
                assert stream.status_code == 200
                revoked = await client.delete(f"/api/auth/tokens/{created['id']}")
                assert revoked.status_code == 204
                await ends_within(stream, 5)
            assert (await script.get("/api/jobs/events")).status_code == 401


async def test_stream_of_a_live_session_stays_open(live_recheck: LiveApp) -> None:
    """While the session lives, re-checks leave the stream open and events keep flowing."""
    live = live_recheck
    submitted: list[str] = []

    async def submit_later(client: httpx.AsyncClient) -> None:
        await anyio.sleep(1.0)  # several re-checks first
        response = await client.post(
            "/api/jobs", json={"jobType": "diagnostic.echo", "inputData": {"seconds": 0}}
        )
        submitted.append(response.json()["id"])

    async with (
        signed_up(live, "stays@example.com") as client,
        client.stream("GET", "/api/jobs/events") as stream,
        anyio.create_task_group() as tasks,
    ):
        assert stream.status_code == 200
        tasks.start_soon(submit_later, client)
        seen = False
        with anyio.fail_after(10):
            async for message in read_sse(stream):
                if submitted and message["data"]["job"]["id"] == submitted[0]:
                    seen = True
                    break
        assert seen, "the stream ended although the session is alive"


async def test_open_streams_share_one_credential_check_per_interval(
    live_recheck: LiveApp,
) -> None:
    """E7 at scale: twelve token streams and four browser sessions re-check their credentials
    together (one query per kind per interval, not one per stream), and a revoked token still
    ends only its own stream."""
    live = live_recheck
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    async with AsyncExitStack() as stack:
        owner = await stack.enter_async_context(signed_up(live, "many@example.com"))
        created = [
            (await owner.post("/api/auth/tokens", json={"name": f"t{i}"})).json() for i in range(12)
        ]
        streams = []
        for token in created:
            script = await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=live.base_url, headers={"Authorization": f"Bearer {token['token']}"}
                )
            )
            streams.append(
                await stack.enter_async_context(script.stream("GET", "/api/jobs/events"))
            )
        for index in range(4):
            tab = await stack.enter_async_context(signed_up(live, f"tab{index}@example.com"))
            streams.append(await stack.enter_async_context(tab.stream("GET", "/api/jobs/events")))
        assert all(stream.status_code == 200 for stream in streams)

        engine = live.container.db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            began = anyio.current_time()
            await anyio.sleep(1.0)  # five intervals of 0.2 s
            elapsed = anyio.current_time() - began
        finally:
            event.remove(engine, "before_cursor_execute", record)
        intervals = elapsed / live.container.settings.session_recheck_s
        token_checks = [s for s in statements if "FROM api_tokens" in s]
        session_checks = [s for s in statements if "FROM user_sessions" in s]
        assert 1 <= len(token_checks) <= intervals + 2  # one per stream would be ~60
        assert 1 <= len(session_checks) <= intervals + 2  # one per stream would be ~20

        revoked = await owner.delete(f"/api/auth/tokens/{created[0]['id']}")
        assert revoked.status_code == 204
        await ends_within(streams[0], 5)
        await anyio.sleep(0.5)  # more re-checks: the others stay open
        for stream in streams[1:]:
            assert not stream.is_closed
