"""The product in a real browser: sign up, upload, extract, optimize, cancel, and isolation."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PASSWORD, Watched, make_admin, sign_in, sign_up
from tests.fixtures.documents import resume_pdf
from tests.reliability.process import AppProcess

Open = Callable[..., Watched]


def submit_echo(page: Page, **input_data: Any) -> str:
    """Submits a ``diagnostic.echo`` job from the page, as the app's own fetch() would."""
    job = page.evaluate(
        """async (inputData) => {
            const response = await fetch("/api/jobs", {
                method: "POST",
                headers: {"content-type": "application/json"},
                body: JSON.stringify({jobType: "diagnostic.echo", inputData}),
            });
            if (response.status !== 202) throw new Error(await response.text());
            return response.json();
        }""",
        input_data,
    )
    return str(job["id"])


@pytest.mark.timeout(300)
def test_resume_posting_and_optimization_journey(
    watch: Open, server: AppProcess, job_board: str, tmp_path: Path
) -> None:
    """A new user uploads a resume, adds a posting and optimizes, watching each job live; a
    second user, in another browser context, sees none of it."""
    alice = watch("alice")
    page = alice.page()
    sign_up(page, "alice@example.com")
    expect(page.get_by_text("No jobs yet")).to_be_visible()
    alice.shot(page, "dashboard-empty")

    # Resume: checked before upload, then a live tracker, then the parsed resume.
    page.get_by_role("link", name="Resumes", exact=True).click()
    wrong = tmp_path / "photo.png"
    wrong.write_bytes(b"\x89PNG\r\n\x1a\n")
    page.get_by_test_id("file-input").set_input_files(str(wrong))
    expect(page.get_by_text('"photo.png" is not a PDF, DOCX, TXT or MD file.')).to_be_visible()
    resume = tmp_path / "jane-doe.pdf"
    resume.write_bytes(resume_pdf())
    page.get_by_test_id("file-input").set_input_files(str(resume))
    tracker = page.get_by_test_id("job-tracker")
    expect(tracker).to_have_attribute("data-status", "completed")
    expect(tracker.get_by_test_id("job-progress")).to_have_text("100%")
    expect(page.get_by_test_id("resume-view")).to_contain_text("Jane Doe")
    alice.shot(page, "resume-parsed")
    page.get_by_role("link", name="Jane Doe").click()
    expect(page).to_have_url(re.compile(r"/resumes/detail/\?id="))
    expect(page.get_by_test_id("resume-view")).to_contain_text("jane@example.com")
    alice.shot(page, "resume-detail")

    # Posting: the page opens at once in a loading state, then fills in.
    page.get_by_role("link", name="Job postings").click()
    page.get_by_label("Posting URL").fill(f"http://{job_board}/jobs/4012")
    page.get_by_role("button", name="Add posting").click()
    expect(page).to_have_url(re.compile(r"/postings/detail/\?(job|id)="))
    expect(page).to_have_url(re.compile(r"/postings/detail/\?id="))
    expect(page.get_by_test_id("posting-title")).to_have_text("Senior Platform Engineer")
    expect(page.get_by_test_id("posting-view")).to_contain_text("Acme Payments")
    expect(page.get_by_test_id("posting-view")).to_contain_text("$170,000 \u2013 $210,000 per year")
    alice.shot(page, "posting-detail")

    # Optimize: the only resume and posting are preselected.
    page.get_by_role("link", name="Optimize a resume for it").click()
    expect(page.get_by_label("Job posting")).to_contain_text("Senior Platform Engineer")
    page.get_by_role("button", name="Optimize", exact=True).click()
    expect(page.get_by_test_id("job-tracker")).to_have_attribute("data-status", "completed")
    score = page.get_by_test_id("score")
    expect(score).to_have_text(re.compile(r"^\d{1,3}$"))
    expect(page.get_by_role("heading", name="Tailored resume")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"Missing keywords"))).to_be_visible()
    alice.shot(page, "optimization")
    page.get_by_role("link", name="Open this optimization on its own page").click()
    expect(page).to_have_url(re.compile(r"/optimizations/detail/\?id="))
    expect(page.get_by_test_id("score")).to_have_text(score.inner_text())
    alice.shot(page, "optimization-detail")

    # The dashboard lists the three jobs, finished; a job's own page links what it made.
    page.get_by_role("link", name="Dashboard").click()
    rows = page.get_by_test_id("job-row")
    expect(rows).to_have_count(3)
    expect(page.locator('[data-testid="job-row"][data-status="completed"]')).to_have_count(3)
    alice.shot(page, "dashboard-done")
    page.get_by_label("Type").select_option("job.extract")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("link", name="Posting extraction").click()
    expect(page).to_have_url(re.compile(r"/jobs/detail/\?id="))
    expect(page.get_by_test_id("job-tracker")).to_have_attribute("data-status", "completed")
    expect(page.get_by_role("link", name="Open the job posting")).to_be_visible()
    alice.shot(page, "job-detail")
    alices_job = page.url

    # Bob, in his own browser context, sees none of it, not even by Alice's links.
    bob = watch("bob")
    other = bob.page()
    sign_up(other, "bob@example.com")
    expect(other.get_by_text("No jobs yet")).to_be_visible()
    other.goto("/resumes/")
    expect(other.get_by_text("No resumes yet")).to_be_visible()
    other.goto("/postings/")
    expect(other.get_by_text("No job postings yet")).to_be_visible()
    bob.allow_failed_load(r"/api/jobs/(events\?job_id=)?[0-9a-f-]{36}$")  # 404: not his
    other.goto(alices_job.removeprefix(server.base_url))
    expect(other.get_by_test_id("error-message")).to_have_text(
        "Not found: it may have been deleted."
    )
    bob.shot(other, "alices-job")


def test_cancel_a_slow_job_from_the_dashboard(watch: Open, server: AppProcess) -> None:
    """A slow job appears on the dashboard live, reports progress, and is cancelled there."""
    carol = watch("carol")
    page = carol.page()
    sign_up(page, "carol@example.com")
    job_id = submit_echo(page, seconds=600, steps=600)
    row = page.locator(f'[data-testid="job-row"][data-job-id="{job_id}"]')
    expect(row).to_have_attribute("data-status", "running")
    expect(row).to_contain_text(re.compile(r"step \d+ of 600"))
    carol.shot(page, "dashboard-running")
    row.get_by_role("button", name="Cancel").click()
    expect(row).to_have_attribute("data-status", "cancelled")
    expect(row.get_by_role("button", name="Retry")).to_be_visible()
    carol.shot(page, "dashboard-cancelled")
    status = page.evaluate(
        "async (id) => (await (await fetch(`/api/jobs/${id}`)).json()).status", job_id
    )
    assert status == "cancelled"


def test_failed_job_shows_its_message_and_retries(watch: Open, server: AppProcess) -> None:
    """A job that fails shows the user-facing message on its page, and Retry runs it again."""
    dave = watch("dave")
    page = dave.page()
    sign_up(page, "dave@example.com")
    job_id = submit_echo(page, failTimes=1, failKind="user", echo="again")
    page.goto(f"/jobs/detail/?id={job_id}")
    tracker = page.get_by_test_id("job-tracker")
    expect(tracker).to_have_attribute("data-status", "failed")
    expect(tracker.get_by_test_id("error-message")).to_contain_text("diagnostic failure 1 of 1")
    dave.shot(page, "job-failed")
    tracker.get_by_role("button", name="Retry").click()
    expect(tracker).to_have_attribute("data-status", "completed")


def test_api_paths_are_never_pages(watch: Open, server: AppProcess) -> None:
    """An unknown /api path is a JSON 404 and an unknown page is the app's own 404 page."""
    erin = watch("erin")
    page = erin.page()
    api = page.request.get("/api/no-such-thing")
    assert api.status == 404
    assert api.headers["content-type"].startswith("application/problem+json")
    response = page.request.get("/no-such-page/")
    assert response.status == 404
    assert "Page not found" in response.text()


def test_phone_keyboard_sign_out_and_back_in(watch: Open, server: AppProcess) -> None:
    """On a phone-sized screen the menu opens by keyboard; signing out and back in works with the
    keyboard alone."""
    phone = watch("phone", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = phone.page()
    sign_up(page, "frank@example.com")
    menu = page.get_by_role("button", name="Menu")
    expect(page.get_by_role("link", name="Resumes", exact=True)).to_be_hidden()
    menu.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Resumes", exact=True)).to_be_visible()
    phone.shot(page, "menu-open")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in/"))
    phone.shot(page, "sign-in")

    phone.allow_failed_load(r"/api/auth/login$")  # the wrong password, on purpose
    page.get_by_label("Email").focus()
    page.keyboard.type("frank@example.com")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type("wrong password here")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert").filter(has_text="wrong")).to_be_visible()
    page.get_by_label("Password").fill("")
    page.get_by_label("Password").focus()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_text("No jobs yet")).to_be_visible()


def test_admin_sees_the_admin_section(watch: Open, server: AppProcess) -> None:
    """Admins get an Admin section linking the queue monitor; other users do not."""
    make_admin(server, "root@example.com")
    admin = watch("admin")
    page = admin.page()
    sign_in(page, "root@example.com")
    admin_nav = page.get_by_role("group", name="Admin")
    expect(admin_nav.get_by_role("link", name="Queue monitor")).to_have_attribute(
        "href", "/admin/queues/"
    )
    admin.shot(page, "dashboard")

    user = watch("user")
    other = user.page()
    sign_up(other, "grace@example.com")
    expect(other.get_by_role("group", name="Admin")).to_have_count(0)
