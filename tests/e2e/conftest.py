"""Browser tests: the built web app (web/out) in Debian's headless Chromium, driven by Playwright,
against a real ``atspro serve`` process on SQLite with the offline AI engine.

Every test here is marked ``e2e``. Without a build (web/out) or a browser they are skipped with
the reason, unless ``ATSPRO_REQUIRE_E2E=1`` (``make test`` sets it): then they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    expect,
    sync_playwright,
)

from app.web import DEFAULT_WEB_DIR
from tests.fixtures.ai_samples import JSONLD_POSTING
from tests.fixtures.hostile import HOSTILE_POSTING
from tests.reliability.process import AppProcess, app_process

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("ATSPRO_E2E_ARTIFACTS", Path(__file__).parent / "artifacts"))
PASSWORD = "a quiet lighthouse 1987"
# A liveness deadline, not a speed claim: parsing and optimizing run in child processes on a
# shared, busy machine.
expect.set_options(timeout=30_000)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _missing() -> str | None:
    if not (DEFAULT_WEB_DIR / "index.html").is_file():
        return f"the web app is not built ({DEFAULT_WEB_DIR}); run `make web` or `make test`"
    if _chromium() is None:
        return "no chromium on PATH (`apt-get install chromium`; never `playwright install`)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    reason = _missing()
    for item in items:
        if here not in Path(str(item.fspath)).parents:
            continue
        item.add_marker(pytest.mark.e2e)
        if reason is not None and os.environ.get("ATSPRO_REQUIRE_E2E") != "1":
            item.add_marker(pytest.mark.skip(reason=f"e2e skipped: {reason}"))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Under ATSPRO_REQUIRE_E2E=1 a missing build or browser fails at once, before any fixture
    starts a server or a browser."""
    if item.get_closest_marker("e2e") and (reason := _missing()):
        pytest.fail(f"ATSPRO_REQUIRE_E2E=1 but {reason}", pytrace=False)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Debian's chromium (Playwright's own browser builds are never downloaded), for this
    package only: Playwright's sync API runs its own event loop, which must be gone before the
    async tests of the next packages start theirs."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class _Board(BaseHTTPRequestHandler):
    PAGES: ClassVar[dict[str, str]] = {
        "/jobs/4012": JSONLD_POSTING,
        "/jobs/hostile": HOSTILE_POSTING,  # stored-XSS payloads in every field (U8)
    }

    def do_GET(self) -> None:
        if self.path not in self.PAGES:
            self.send_error(404)
            return
        body = self.PAGES[self.path].encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="package")
def job_board() -> Iterator[str]:
    """A job board on 127.0.0.1 (``host:port``); the app is told to allow fetching from it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Board)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory, job_board: str) -> Iterator[AppProcess]:
    """``atspro serve`` (HTTP, workers and the web app) on SQLite, in development mode (a plain
    http cookie on 127.0.0.1), with no AI key: the offline engines answer."""
    data = tmp_path_factory.mktemp("e2e") / "data"
    with app_process(
        data,
        ATSPRO_FETCH_ALLOW_HOSTS=job_board,
        ATSPRO_WEB_DIR=str(DEFAULT_WEB_DIR),
    ) as app:
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ATSPRO_AI_MODEL"):
            app.env.pop(name, None)  # this fixture may start before the per-test guard
        app.start()
        yield app


@dataclass
class Watched:
    """A browser context whose pages fail the test on a console error or a CSP violation."""

    context: BrowserContext
    name: str
    errors: list[str] = field(default_factory=list)
    expected: list[re.Pattern[str]] = field(default_factory=list)

    def allow_failed_load(self, url_pattern: str) -> None:
        """A failed load the test provokes on purpose (another user's id, say) is no fault."""
        self.expected.append(re.compile(url_pattern))

    def page(self) -> Page:
        page = self.context.new_page()
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "") if message.location else ""
        # Signed out, the app asks who is signed in and is told 401: expected, not a fault.
        if "status of 401" in message.text and url.endswith("/api/auth/me"):
            return
        failed_load = message.text.startswith("Failed to load resource")
        if failed_load and any(pattern.search(url) for pattern in self.expected):
            return
        self.errors.append(f"console: {message.text} ({url})")

    def shot(self, page: Page, label: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", f"{self.name}-{label}".lower()).strip("-")
        page.screenshot(path=str(ARTIFACTS / f"{slug}.png"), full_page=True)


@pytest.fixture
def watch(browser: Browser, server: AppProcess, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Opens browser contexts (one per user) on the live server; asserts no console errors."""
    opened: list[Watched] = []

    def open_context(user: str, **options: Any) -> Watched:
        context = browser.new_context(base_url=server.base_url, **options)
        watched = Watched(context, f"{request.node.name}-{user}")
        opened.append(watched)
        return watched

    yield open_context
    errors = [error for watched in opened for error in watched.errors]
    for watched in opened:
        watched.context.close()
    assert not errors, "\n".join(errors)


def make_admin(server: AppProcess, email: str) -> str:
    """An admin made with the CLI (as operators do), given a password so a browser can sign in;
    its API token."""
    token = server.cli("user", "create", email, "--admin").strip().splitlines()[-1]
    response = httpx.post(
        f"{server.base_url}/api/auth/password",
        json={"newPassword": PASSWORD},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 204, response.text
    return token


def sign_in(page: Page, email: str) -> None:
    page.goto("/sign-in/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("account-email")).to_have_text(email)


def sign_up(page: Page, email: str) -> None:
    """Signs up through the UI, starting from the dashboard (which sends visitors to sign in)."""
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in/"))
    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_test_id("account-email")).to_have_text(email)
