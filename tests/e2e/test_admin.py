"""The admin pages in a real browser: the dead-letter console, inspect, retry, discard, the audit
log, usage analytics and SAQ's queue monitor; and what a user who is not an admin sees there."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Watched, make_admin, sign_in, sign_up
from tests.reliability.process import AppProcess

Open = Callable[..., Watched]
ADMIN_EMAIL = "ops@example.com"


@dataclass(frozen=True)
class Client:
    """A user of the live server, calling the API with a bearer token (as a script would)."""

    server: AppProcess
    token: str

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(
            method, f"{self.server.base_url}{path}", headers=headers, timeout=10, **kwargs
        )

    def submit_echo(self, max_retries: int = 0, **input_data: Any) -> str:
        body = {"jobType": "diagnostic.echo", "inputData": input_data, "maxRetries": max_retries}
        response = self.call("POST", "/api/jobs", json=body)
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def wait_for(self, job_id: str, status: str) -> dict[str, Any]:
        """The job once it reaches ``status`` (a liveness deadline, not a speed claim)."""
        found: dict[str, Any] = {}

        def reached() -> bool:
            nonlocal found
            found = self.call("GET", f"/api/jobs/{job_id}").json()
            return bool(found["status"] == status)

        _eventually(reached, f"job {job_id} to be {status}")
        return found


def _eventually(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"waited {timeout}s for {what}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def admin(server: AppProcess) -> Client:
    """An admin made with the CLI (as operators do), given a password so a browser can sign in."""
    return Client(server, make_admin(server, ADMIN_EMAIL))


def admin_page(watch: Open, admin: Client) -> tuple[Watched, Page]:
    watched = watch("admin")
    page = watched.page()
    sign_in(page, ADMIN_EMAIL)
    return watched, page


@pytest.mark.timeout(240)
def test_console_finds_inspects_retries_and_discards(
    watch: Open, server: AppProcess, admin: Client
) -> None:
    """An admin finds a user's failed job by text, reads its attempts and traceback, retries it
    to completion, retries all jobs a filter matches, discards one, and the audit log shows it."""
    user = Client(server, server.create_user("harriet@example.com"))
    # Three transient failures spend both retries, then the job fails for good; a fourth run works.
    flaky = user.submit_echo(max_retries=2, failTimes=3, failKind="transient", echo="flaky")
    # An internal error (a bug) fails at once, with a traceback for operators.
    broken = user.submit_echo(failTimes=5, failKind="internal", echo="broken")
    # Two jobs with the same user-facing error, for "retry all matching".
    alike = [user.submit_echo(failTimes=2, failKind="user", echo=n) for n in ("a", "b")]
    for job_id in (flaky, broken, *alike):
        user.wait_for(job_id, "failed")

    admin_ui, page = admin_page(watch, admin)
    page.get_by_role("group", name="Admin").get_by_role("link", name="Failed jobs").click()
    expect(page.get_by_role("heading", name="Failed jobs")).to_be_visible()
    rows = page.get_by_test_id("dead-letter")

    # Text search in the error message finds exactly the flaky job.
    page.get_by_label("Error message contains").fill("failure 3 of 3")
    page.get_by_role("button", name="Apply filter").click()
    expect(page).to_have_url(re.compile(r"/admin/jobs/\?q=failure\+3\+of\+3$"))
    expect(rows).to_have_count(1)
    row = page.locator(f'[data-testid="dead-letter"][data-job-id="{flaky}"]')
    expect(row.get_by_test_id("owner-email")).to_have_text("harriet@example.com")
    expect(row.get_by_test_id("dead-letter-error")).to_have_text("diagnostic failure 3 of 3")

    # Unfiltered, by type: every failed job of the user is there.
    page.get_by_role("button", name="Clear").click()
    expect(page).to_have_url(re.compile(r"/admin/jobs/$"))
    for job_id in (flaky, broken, *alike):
        expect(page.locator(f'[data-job-id="{job_id}"]')).to_be_visible()
    admin_ui.shot(page, "console-list")

    # Inspect the flaky job: three attempts, each with its worker; retries, then failed.
    page.goto(f"/admin/jobs/?q={'failure 3 of 3'.replace(' ', '+')}")
    expect(rows).to_have_count(1)
    row.get_by_role("link", name=re.compile("^Inspect")).click()
    expect(page).to_have_url(re.compile(rf"/admin/jobs/detail/\?id={flaky}$"))
    expect(page.get_by_test_id("inspect-owner")).to_have_text("harriet@example.com")
    expect(page.get_by_test_id("inspect-input")).to_contain_text('"echo": "flaky"')
    attempts = page.get_by_test_id("attempt")
    expect(attempts).to_have_count(3)
    outcomes = [attempts.nth(n).get_attribute("data-outcome") for n in range(3)]
    assert outcomes == ["retry_scheduled", "retry_scheduled", "failed"]
    expect(attempts.nth(0)).to_contain_text("Worker")
    expect(attempts.nth(2).get_by_test_id("attempt-error")).to_have_text(
        "diagnostic failure 3 of 3"
    )
    attempts.nth(2).get_by_text("Traceback", exact=True).click()
    expect(attempts.nth(2).get_by_test_id("traceback")).to_contain_text("TransientError")
    admin_ui.shot(page, "inspect-failed")

    # Retry from the browser: the page follows the job until it completes.
    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_test_id("inspect-status")).to_have_attribute("data-status", "completed")
    expect(attempts).to_have_count(4)
    expect(attempts.nth(3)).to_have_attribute("data-outcome", "completed")
    assert user.call("GET", f"/api/jobs/{flaky}").json()["status"] == "completed"
    admin_ui.shot(page, "inspect-retried")

    # The internal failure shows its traceback; discarding asks first, then the job is gone.
    page.goto(f"/admin/jobs/detail/?id={broken}")
    expect(page.get_by_test_id("last-traceback")).to_contain_text(
        "RuntimeError: diagnostic failure 1 of 5"
    )
    admin_ui.shot(page, "inspect-traceback")
    page.get_by_role("button", name="Discard").click()
    dialog = page.get_by_role("dialog", name="Discard this job?")
    expect(dialog).to_contain_text("harriet@example.com")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert user.call("GET", f"/api/jobs/{broken}").status_code == 200
    page.get_by_role("button", name="Discard").click()
    dialog.get_by_role("button", name="Discard").click()
    expect(page.get_by_test_id("discarded")).to_be_visible()
    assert user.call("GET", f"/api/jobs/{broken}").status_code == 404

    # Retry all matching: the dialog names the filter; the count comes back.
    page.goto("/admin/jobs/")
    page.get_by_label("Error message contains").fill("failure 1 of 2")
    page.get_by_label("Error kind").select_option("user")
    page.get_by_role("button", name="Apply filter").click()
    expect(rows).to_have_count(2)
    page.get_by_role("button", name="Retry all matching").click()
    dialog = page.get_by_role("dialog", name="Retry every matching job?")
    expect(dialog.get_by_test_id("confirm-filter")).to_contain_text(
        "Error message contains: “failure 1 of 2”"
    )
    expect(dialog.get_by_test_id("confirm-filter")).to_contain_text("Error kind: User input")
    admin_ui.shot(page, "console-retry-all")
    dialog.get_by_role("button", name="Retry all").click()
    expect(page.get_by_test_id("console-notice")).to_have_text("Retried 2 jobs.")
    for job_id in alike:  # they fail again on their second run ("2 of 2"): the task says so
        assert user.wait_for(job_id, "failed")["errorMessage"] == "diagnostic failure 2 of 2"

    # The audit log lists the retry, the bulk retry and the discard, newest first.
    page.get_by_role("group", name="Admin").get_by_role("link", name="Audit log").click()
    entries = page.get_by_test_id("audit-entry")
    expect(entries.first).to_have_attribute("data-action", "job.retry_matching")
    expect(entries.first).to_contain_text("count: 2")
    discard = page.locator('[data-testid="audit-entry"][data-action="job.discard"]')
    expect(discard.filter(has_text=broken)).to_have_count(1)
    retry = page.locator('[data-testid="audit-entry"][data-action="job.retry"]')
    expect(retry.filter(has_text=flaky)).to_have_count(1)
    expect(entries.first).to_contain_text(ADMIN_EMAIL)
    admin_ui.shot(page, "audit-log")
    page.get_by_label("Action").select_option("job.discard")
    expect(
        page.locator('[data-testid="audit-entry"]:not([data-action="job.discard"])')
    ).to_have_count(0)
    expect(discard.filter(has_text=broken)).to_have_count(1)


def test_analytics_shows_the_api_numbers(watch: Open, server: AppProcess, admin: Client) -> None:
    """The usage page shows the same totals, per-type figures and chart as the analytics API,
    on a phone-sized screen too."""
    user = Client(server, server.create_user("ivan@example.com"))
    done = [user.submit_echo(echo=n) for n in range(3)]
    failed = user.submit_echo(failTimes=1, failKind="user")
    for job_id in done:
        user.wait_for(job_id, "completed")
    user.wait_for(failed, "failed")

    report = admin.call("GET", "/api/admin/analytics?days=30").json()
    echo = next(row for row in report["byType"] if row["jobType"] == "diagnostic.echo")
    assert echo["submitted"] >= 4
    assert echo["failed"] >= 1
    assert report["activeUsers"] >= 1
    finished = sum(row["completed"] + row["failed"] for row in report["byType"])
    completed = sum(row["completed"] for row in report["byType"])

    admin_ui, page = admin_page(watch, admin)
    page.get_by_role("group", name="Admin").get_by_role("link", name="Usage").click()
    expect(page.get_by_test_id("stat-submitted")).to_have_text(
        str(sum(row["submitted"] for row in report["byType"]))
    )
    expect(page.get_by_test_id("stat-failed")).to_have_text(
        str(sum(row["failed"] for row in report["byType"]))
    )
    expect(page.get_by_test_id("stat-retried")).to_have_text(
        str(sum(row["retried"] for row in report["byType"]))
    )
    expect(page.get_by_test_id("stat-active-users")).to_have_text(str(report["activeUsers"]))
    expect(page.get_by_test_id("stat-success")).to_have_text(
        f"{round(completed / finished * 100)}%"
    )

    table_row = page.locator('[data-testid="by-type"] tr[data-job-type="diagnostic.echo"]')
    for column in ("submitted", "completed", "failed", "retried"):
        expect(table_row.locator(f'[data-col="{column}"]')).to_have_text(str(echo[column]))
    expect(table_row.locator('[data-col="success"]')).to_have_text(
        f"{round(echo['successRate'] * 100)}%"
    )
    expect(table_row.locator('[data-col="median"]')).to_have_text(re.compile(r"^(< )?[\d.]+ s$"))

    # The chart: one column per day of the window; today's bar totals today's submissions.
    chart = page.get_by_test_id("usage-chart")
    expect(chart.locator("g[data-day]")).to_have_count(30)
    days: dict[str, int] = {}
    for row in report["daily"]:
        days[row["day"]] = days.get(row["day"], 0) + row["submitted"]
    for day, submitted in days.items():
        expect(chart.locator(f'g[data-day="{day}"]')).to_have_attribute(
            "data-total", str(submitted)
        )
    top = page.get_by_test_id("top-operations").locator("li")
    expect(top).to_have_count(len(report["topOperations"]))
    admin_ui.shot(page, "analytics")

    phone = watch("phone", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    small = phone.page()
    sign_in(small, ADMIN_EMAIL)
    small.goto("/admin/analytics/")
    expect(small.get_by_test_id("stat-active-users")).to_have_text(str(report["activeUsers"]))
    width = small.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px wide)"
    phone.shot(small, "analytics-phone")


def test_queue_monitor_loads_without_errors(watch: Open, server: AppProcess, admin: Client) -> None:
    """SAQ's monitor, linked from the Admin section, runs in the browser with no console error
    and no CSP violation, and shows the app's queues."""
    admin_ui, page = admin_page(watch, admin)
    with page.expect_navigation():
        page.get_by_role("group", name="Admin").get_by_role("link", name="Queue monitor").click()
    expect(page).to_have_url(re.compile(r"/admin/queues/?$"))
    for queue in ("high", "default", "low"):
        expect(page.get_by_text(queue, exact=True).first).to_be_visible()
    admin_ui.shot(page, "queue-monitor")


def test_non_admin_sees_admins_only(watch: Open, server: AppProcess) -> None:
    """A signed-in user who opens an admin address gets a friendly "admins only" page, has no
    Admin links, and the API refuses them with 403."""
    user = watch("user")
    page = user.page()
    sign_up(page, "judy@example.com")
    expect(page.get_by_role("group", name="Admin")).to_have_count(0)
    for path in (
        "/admin/jobs/",
        "/admin/jobs/detail/?id=00000000-0000-4000-8000-000000000000",
        "/admin/audit/",
        "/admin/analytics/",
    ):
        page.goto(path)
        expect(page.get_by_role("heading", name="Admins only")).to_be_visible()
    user.shot(page, "admins-only")
    for path in ("/api/admin/jobs", "/api/admin/audit", "/api/admin/analytics"):
        assert page.request.get(path).status == 403, path


def test_owner_sees_the_attempt_history(watch: Open, server: AppProcess) -> None:
    """A job's owner sees each attempt on the job's page (outcome and message), without the
    worker or traceback that only admins see."""
    kim = watch("kim")
    page = kim.page()
    sign_up(page, "kim@example.com")
    job = page.evaluate(
        """async () => {
            const response = await fetch("/api/jobs", {
                method: "POST",
                headers: {"content-type": "application/json"},
                body: JSON.stringify({jobType: "diagnostic.echo",
                                      inputData: {failTimes: 1, failKind: "transient"}}),
            });
            if (response.status !== 202) throw new Error(await response.text());
            return response.json();
        }"""
    )
    page.goto(f"/jobs/detail/?id={job['id']}")
    expect(page.get_by_test_id("job-tracker")).to_have_attribute("data-status", "completed")
    attempts = page.get_by_test_id("attempt")
    expect(attempts).to_have_count(2)
    expect(attempts.nth(0)).to_have_attribute("data-outcome", "retry_scheduled")
    expect(attempts.nth(0).get_by_test_id("attempt-error")).to_have_text(
        "diagnostic failure 1 of 1"
    )
    expect(attempts.nth(1)).to_have_attribute("data-outcome", "completed")
    expect(page.get_by_text("Traceback", exact=True)).to_have_count(0)
    expect(page.get_by_text("Worker")).to_have_count(0)
    kim.shot(page, "job-attempts")
