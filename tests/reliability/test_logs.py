"""Logs of a real `atspro serve`: JSON lines with stable event names and the fields that tie a
job's life together, and no secrets."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reliability.process import app_process

pytestmark = pytest.mark.slow

PASSWORD = "velvet-otter-crane-7419"
REQUEST_ID = "req-logs-test.42"
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def records(log: Path) -> list[dict[str, Any]]:
    """The JSON lines of the process's stderr (stderr is a file here, not a terminal)."""
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines if line.startswith("{")]
    assert parsed, log.read_text()
    return parsed


def one(found: list[dict[str, Any]], event: str, **fields: Any) -> dict[str, Any]:
    matches = [
        entry
        for entry in found
        if entry["event"] == event and all(entry.get(k) == v for k, v in fields.items())
    ]
    assert len(matches) == 1, (event, fields, [e for e in found if e["event"] == event])
    return matches[0]


def test_a_jobs_life_in_json_lines_without_secrets(tmp_path: Path) -> None:
    """Sign-up, a submission carrying X-Request-ID, a retried job, a failed job and an event
    stream: every step is one JSON line with its event name and job_id, job_type, user_id,
    attempt (and the submission's request_id); the sign-up password and session id never
    appear."""
    with app_process(tmp_path / "data", ATSPRO_LOG_LEVEL="info") as app:
        app.start()
        with httpx.Client(base_url=app.base_url, headers=SAME_ORIGIN, timeout=30) as browser:
            signup = browser.post(
                "/api/auth/signup", json={"email": "logs@example.com", "password": PASSWORD}
            )
            assert signup.status_code == 201, signup.text
            user_id = signup.json()["id"]
            session = next(iter(browser.cookies.values()))

            submitted = browser.post(
                "/api/jobs",
                json={"jobType": "diagnostic.echo", "inputData": {"seconds": 0.2, "steps": 2}},
                headers={"X-Request-ID": REQUEST_ID},
            )
            assert submitted.status_code == 202, submitted.text
            assert submitted.headers["x-request-id"] == REQUEST_ID
            job_id = submitted.json()["id"]
            with browser.stream("GET", "/api/jobs/events", params={"job_id": job_id}) as stream:
                ended = [line for line in stream.iter_lines() if '"completed"' in line]
            assert ended

            flaky = browser.post(
                "/api/jobs",
                json={"jobType": "diagnostic.echo", "inputData": {"failTimes": 1}},
                headers={"X-Request-ID": "bad id\twith spaces"},
            )
            assert flaky.headers["x-request-id"] != "bad id\twith spaces"
            broken = browser.post(
                "/api/jobs",
                json={
                    "jobType": "diagnostic.echo",
                    "inputData": {"failTimes": 9, "failKind": "user"},
                },
            )
            for job, status in ((flaky, "completed"), (broken, "failed")):
                with browser.stream(
                    "GET", "/api/jobs/events", params={"job_id": job.json()["id"]}
                ) as stream:
                    assert any(f'"{status}"' in line for line in stream.iter_lines())
        app.signal(signal.SIGTERM)
        assert app.wait() == 0
        text = app.log.read_text()

    assert PASSWORD not in text
    assert session not in text
    found = records(app.log)
    assert all({"time", "level", "logger", "event"} <= entry.keys() for entry in found)
    job = {"job_id": job_id, "job_type": "diagnostic.echo", "user_id": user_id}
    enqueued = one(found, "job.enqueued", **job)
    assert enqueued["request_id"] == REQUEST_ID
    http = one(found, "http.request", request_id=REQUEST_ID)
    assert (http["method"], http["route"], http["status"]) == ("POST", "/api/jobs", 202)
    assert one(found, "job.started", **job)["attempt"] == 1
    assert one(found, "job.completed", **job)["attempt"] == 1
    one(found, "sse.connected", job_id=job_id, user_id=user_id)
    one(found, "sse.disconnected", job_id=job_id, user_id=user_id)

    flaky_job = {"job_id": flaky.json()["id"], "user_id": user_id}
    assert one(found, "job.retry_scheduled", **flaky_job)["attempt"] == 1
    assert one(found, "job.completed", **flaky_job)["attempt"] == 2
    failed = one(found, "job.failed", job_id=broken.json()["id"], user_id=user_id)
    assert (failed["attempt"], failed["error_kind"]) == (1, "user")
    assert not [entry for entry in found if entry["event"] == "job.progress"]  # debug only
