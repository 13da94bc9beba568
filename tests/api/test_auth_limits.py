"""Brute force and quotas (A7): login attempts per account and per address, job submissions
per user; 429 with Retry-After; ``off`` disables a limit; Redis shares counts across processes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from pydantic import ValidationError

from app.errors import RateLimited
from app.ratelimit import RateLimits
from app.settings import Settings
from tests.conftest import REDIS_URL, LiveApp
from tests.fixtures.accounts import PASSWORD, browser, signed_up, submit


def assert_limited(response: object) -> None:
    status = getattr(response, "status_code", None)
    headers = getattr(response, "headers", {})
    assert status == 429, getattr(response, "text", "")
    assert 1 <= int(headers["retry-after"]) <= 60


async def test_repeated_bad_logins_for_one_account_get_429(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> None:
    """A7: After the account's allowance of attempts, even the right password gets a 429 with
    Retry-After; another account from the same address is unaffected."""
    settings = make_settings(rate_limit_login="3/minute", rate_limit_login_ip="off")
    async for live in serve(settings):
        async with (
            signed_up(live, "target@example.com"),
            signed_up(live, "other@example.com"),
            browser(live) as attacker,
        ):
            for _ in range(3):
                response = await attacker.post(
                    "/api/auth/login",
                    json={"email": "target@example.com", "password": "guess guess"},
                )
                assert response.status_code == 401
            for password in ("guess again", PASSWORD):
                limited = await attacker.post(
                    "/api/auth/login",
                    json={"email": "Target@Example.com", "password": password},
                )
                assert_limited(limited)
                assert "set-cookie" not in limited.headers
            other = await attacker.post(
                "/api/auth/login", json={"email": "other@example.com", "password": PASSWORD}
            )
            assert other.status_code == 200


async def test_unknown_accounts_are_limited_alike(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> None:
    """A7: An email with no account is limited exactly like a real one (no enumeration by 429)."""
    settings = make_settings(rate_limit_login="2/minute", rate_limit_login_ip="off")
    async for live in serve(settings):
        async with browser(live) as attacker:
            statuses = [
                (
                    await attacker.post(
                        "/api/auth/login",
                        json={"email": "ghost@example.com", "password": "guess guess"},
                    )
                ).status_code
                for _ in range(3)
            ]
        assert statuses == [401, 401, 429]


async def test_many_accounts_from_one_address_get_429(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> None:
    """A7: Spraying one password over many accounts from one address hits the per-address limit."""
    settings = make_settings(rate_limit_login="off", rate_limit_login_ip="3/minute")
    async for live in serve(settings):
        async with browser(live) as sprayer:
            for index in range(3):
                response = await sprayer.post(
                    "/api/auth/login",
                    json={"email": f"user{index}@example.com", "password": "Summer2026!"},
                )
                assert response.status_code == 401
            assert_limited(
                await sprayer.post(
                    "/api/auth/login",
                    json={"email": "user9@example.com", "password": "Summer2026!"},
                )
            )


async def test_job_submissions_per_user_get_429(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> None:
    """A7: Past the per-user submission limit a submit is a 429 with Retry-After and makes no
    job; retries count as submissions; another user still submits."""
    async for live in serve(make_settings(rate_limit_submit="2/minute")):
        async with await live.user("flood@example.com") as flood:
            first = (await submit(flood)).json()
            assert (await submit(flood)).status_code == 202
            assert_limited(await submit(flood))
            assert_limited(await flood.post(f"/api/jobs/{first['id']}/retry"))
            assert_limited(await flood.put("/api/job", json={"url": "http://example.com/"}))
            assert len((await flood.get("/api/jobs")).json()["items"]) == 2
            assert (await flood.get(f"/api/jobs/{first['id']}")).status_code == 200  # reads pass
        async with await live.user("calm@example.com") as calm:
            assert (await submit(calm)).status_code == 202


async def test_off_disables_the_submission_limit(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> None:
    """ATSPRO_RATE_LIMIT_SUBMIT=off lets a benchmark submit as fast as it likes."""
    async for live in serve(make_settings(rate_limit_submit="off")):
        async with await live.user("bench@example.com") as bench:
            statuses = {(await submit(bench)).status_code for _ in range(8)}
        assert statuses == {202}


@pytest.mark.parametrize("value", ["lots", "10/fortnight", "-1/minute"])
def test_a_malformed_limit_refuses_to_start(value: str) -> None:
    """A limit the `limits` notation cannot read is a configuration error naming the setting."""
    with pytest.raises(ValidationError, match="rate_limit_submit"):
        Settings(rate_limit_submit=value)


def test_limits_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The limits come from ATSPRO_RATE_LIMIT_LOGIN / _LOGIN_IP / _SUBMIT."""
    monkeypatch.setenv("ATSPRO_RATE_LIMIT_LOGIN", "5/minute;50/day")
    monkeypatch.setenv("ATSPRO_RATE_LIMIT_LOGIN_IP", "OFF")
    monkeypatch.setenv("ATSPRO_RATE_LIMIT_SUBMIT", "120 per hour")
    settings = Settings()
    limits = RateLimits(settings)
    assert [item.amount for item in limits.login_account.items] == [5, 50]
    assert limits.login_address.items == ()
    assert [item.amount for item in limits.submit.items] == [120]


async def test_redis_storage_shares_counts_between_processes() -> None:
    """With REDIS_URL two processes' limiters count together: the third hit across them is
    refused with a Retry-After within the window."""
    settings = Settings(redis_url=REDIS_URL, rate_limit_submit="2/minute")
    first, second = RateLimits(settings), RateLimits(settings)
    key = f"test-{uuid.uuid4()}"
    try:
        await first.hit(first.submit, key)
        await second.hit(second.submit, key)
        with pytest.raises(RateLimited) as refused:
            await first.hit(first.submit, key)
        assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
        await second.hit(second.submit, f"{key}-another-user")  # keys stay apart
    finally:
        await first.aclose()
        await second.aclose()
