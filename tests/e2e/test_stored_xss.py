"""U8 in a real browser: a resume and a job board page full of markup meant to run, opened on
every page that shows them. The text shows as text; nothing runs (the CSP would also refuse it,
and a refusal is a console error that fails the test through the ``watch`` fixture)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Watched, make_admin, sign_in, sign_up
from tests.fixtures.hostile import (
    HOSTILE_COMPANY,
    HOSTILE_RESUME,
    HOSTILE_TITLE,
    IMG,
    PAYLOADS,
    SCRIPT,
    SVG,
)
from tests.reliability.process import AppProcess

Open = Callable[..., Watched]
ADMIN_EMAIL = "xss-ops@example.com"
# Script elements the page holds whose text is a payload (a "</script>" that broke out).
INLINE_PAYLOAD_SCRIPTS = """() => [...document.querySelectorAll("script")]
    .filter((script) => !script.src && script.textContent.includes("__xss")).length"""


def api(page: Page, path: str) -> Any:
    """GET an API path with the page's session (as the app's own fetch() does)."""
    response = page.request.get(path)
    assert response.ok, response.text()
    return response.json()


def assert_inert(watched: Watched, page: Page, label: str, *shown: str) -> None:
    """Each of ``shown`` is on the page as text, no payload ran, and none became an element or
    an event-handler attribute."""
    body = page.locator("body")
    for text in shown:
        expect(body).to_contain_text(text)
    watched.shot(page, label)
    assert page.evaluate("() => window.__xss") is None, label
    assert page.locator("img[src='x'], svg[onload], [onerror], [onload]").count() == 0, label
    assert page.evaluate(INLINE_PAYLOAD_SCRIPTS) == 0, label


@pytest.mark.timeout(300)
def test_hostile_text_is_rendered_as_text_on_every_page(
    watch: Open, server: AppProcess, job_board: str, tmp_path: Path
) -> None:
    """U8: a resume and a job posting whose text holds ``<img onerror>``, ``</script><script>``
    and ``"><svg onload>`` payloads, and a job echoing them, shown on the resume, posting,
    optimization, dashboard, job and admin pages: the text is there literally, ``window.__xss``
    stays undefined, no such element or handler exists, and no console error or CSP report."""
    mallory = watch("mallory")
    page = mallory.page()
    sign_up(page, "mallory@example.com")

    page.get_by_role("link", name="Resumes", exact=True).click()
    resume_file = tmp_path / "mallory.txt"
    resume_file.write_text(HOSTILE_RESUME, encoding="utf-8")
    page.get_by_test_id("file-input").set_input_files(str(resume_file))
    expect(page.get_by_test_id("job-tracker")).to_have_attribute("data-status", "completed")
    expect(page.get_by_test_id("resume-view")).to_contain_text(SCRIPT)
    assert_inert(mallory, page, "resume-parsed", IMG, SCRIPT, SVG)
    [resume] = api(page, "/api/resumes")["items"]
    page.goto(f"/resumes/detail/?id={resume['id']}")
    expect(page.get_by_test_id("resume-view")).to_contain_text(IMG)
    assert_inert(mallory, page, "resume-detail", IMG, SCRIPT, SVG)
    page.goto("/resumes/")
    assert_inert(mallory, page, "resumes")

    page.get_by_role("link", name="Job postings").click()
    page.get_by_label("Posting URL").fill(f"http://{job_board}/jobs/hostile")
    page.get_by_role("button", name="Add posting").click()
    expect(page).to_have_url(re.compile(r"/postings/detail/\?id="))
    expect(page.get_by_test_id("posting-title")).to_have_text(HOSTILE_TITLE)
    assert_inert(mallory, page, "posting-detail", HOSTILE_TITLE, HOSTILE_COMPANY, SCRIPT)
    page.goto("/postings/")
    assert_inert(mallory, page, "postings", HOSTILE_TITLE)

    page.goto("/postings/")
    page.get_by_role("link", name=HOSTILE_TITLE).first.click()
    page.get_by_role("link", name="Optimize a resume for it").click()
    expect(page.get_by_label("Job posting")).to_contain_text(HOSTILE_TITLE)
    page.get_by_role("button", name="Optimize", exact=True).click()
    expect(page.get_by_test_id("job-tracker")).to_have_attribute("data-status", "completed")
    expect(page.get_by_role("heading", name="Tailored resume")).to_be_visible()
    assert_inert(mallory, page, "optimization")
    [optimization] = api(page, "/api/optimizations")["items"]
    page.goto(f"/optimizations/detail/?id={optimization['id']}")
    expect(page.get_by_test_id("score")).to_have_text(re.compile(r"^\d{1,3}$"))
    assert_inert(mallory, page, "optimization-detail")

    echo = page.evaluate(
        """async (echo) => {
            const response = await fetch("/api/jobs", {
                method: "POST",
                headers: {"content-type": "application/json"},
                body: JSON.stringify({jobType: "diagnostic.echo", inputData: {echo}}),
            });
            if (response.status !== 202) throw new Error(await response.text());
            return response.json();
        }""",
        " ".join(PAYLOADS),
    )
    page.goto("/")
    expect(page.get_by_test_id("job-row")).to_have_count(4)
    expect(page.locator('[data-testid="job-row"][data-status="completed"]')).to_have_count(4)
    assert_inert(mallory, page, "dashboard")
    for job in api(page, "/api/jobs")["items"]:
        page.goto(f"/jobs/detail/?id={job['id']}")
        expect(page.get_by_test_id("job-tracker")).to_have_attribute("data-status", "completed")
        assert_inert(mallory, page, f"job-{job['jobType']}")

    # The admin console shows a job's input and result as data.
    make_admin(server, ADMIN_EMAIL)
    ops = watch("ops")
    admin = ops.page()
    sign_in(admin, ADMIN_EMAIL)
    admin.goto(f"/admin/jobs/detail/?id={echo['id']}")
    expect(admin.get_by_test_id("inspect-input")).to_contain_text(SCRIPT)
    assert_inert(ops, admin, "admin-job-detail", SCRIPT)
