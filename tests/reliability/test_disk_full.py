"""D6: the disk fills up under a running one-process app on SQLite.

The tests run as root, for whom file permissions do not make a database read-only, and a full
filesystem or a read-only mount needs privileges the suite should not use. ``RLIMIT_FSIZE`` is a
real fault any user may give a process of their own: past the limit every write of the process
fails with ``EFBIG`` (``SIGXFSZ`` is ignored by Python), and SQLite reports a disk I/O error,
the same path a full disk takes. The limit is set from outside with ``prlimit`` on the running
``atspro serve`` and lifted again the same way (only the soft limit: raising a hard limit needs
``CAP_SYS_RESOURCE``).
"""

from __future__ import annotations

import json
import resource
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from tests.reliability.process import Api, AppProcess, app_process

TERMINAL = {"completed", "failed", "cancelled"}
MARGIN = 256 * 1024  # room left above the largest file the app writes
PAD = "x" * 16_000  # each refused submit is a real write of some size
MAX_SUBMITS = 400
REFUSALS_WANTED = 10
FAULT_S = 4.0  # how long the disk stays full after the first refusal
READY_WAIT_S = 20.0  # a deadline for /readyz to follow the fault (liveness, not timing)


def files_written_by(app: AppProcess, data: Path) -> dict[str, int]:
    sizes = {path.name: path.stat().st_size for path in data.iterdir() if path.is_file()}
    sizes["serve.log"] = app.log.stat().st_size  # its stdout and stderr: also its writes
    return sizes


def set_file_size_limit(app: AppProcess, limit: int) -> None:
    assert app.process is not None
    resource.prlimit(app.process.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))


def submit(api: Api, **input_data: Any) -> httpx.Response:
    return httpx.post(
        f"{api.app.base_url}/api/jobs",
        json={"jobType": "diagnostic.echo", "inputData": input_data},
        headers=api.headers,
        timeout=30,
    )


def readiness_until(app: AppProcess, status_code: int) -> dict[str, Any]:
    """Poll /readyz until it answers ``status_code``; its body."""
    deadline = time.monotonic() + READY_WAIT_S
    while True:
        response = httpx.get(f"{app.base_url}/readyz", timeout=10)
        if response.status_code == status_code:
            return dict(response.json())
        assert time.monotonic() < deadline, (
            f"/readyz stayed {response.status_code}: {response.text}"
        )
        time.sleep(0.2)


def events_by_job(database: Path) -> tuple[int, dict[str, list[str]]]:
    """The number of job rows, and each job's event types in order (read after the app
    stopped, straight from the file)."""
    connection = sqlite3.connect(database)
    try:
        rows = connection.execute("SELECT count(*) FROM background_jobs").fetchone()[0]
        events: dict[str, list[str]] = {}
        for job_id, kind in connection.execute("SELECT job_id, type FROM job_events ORDER BY id"):
            events.setdefault(str(job_id).replace("-", ""), []).append(kind)
    finally:
        connection.close()
    return rows, events


def test_full_disk_is_a_clear_503_and_nothing_is_lost_once_space_returns(tmp_path: Path) -> None:
    """D6: with writes failing (RLIMIT_FSIZE) under running and queued jobs, submits are either
    accepted (202) or refused with a JSON 503 and Retry-After, never a 500; reads go on; the
    process stays up; no job is failed for it and jobs are not retried in a hot loop; /readyz is
    503 naming `database:write` (its read still ok). Once space returns, /readyz is 200 again,
    new submits are accepted and every accepted job completes exactly once (one created and one
    completed event each), and no refused submit left a row."""
    data = tmp_path / "data"
    with app_process(data, ATSPRO_RATE_LIMIT_SUBMIT="off", ATSPRO_LOG_LEVEL="info") as app:
        app.start()
        api = Api(app, app.create_user("full@example.com"))
        accepted = [api.submit(seconds=6, steps=6, echo=n)["id"] for n in range(4)]
        api.wait_for(accepted[0], {"running"})

        before = files_written_by(app, data)
        limit = max(before.values()) + MARGIN
        set_file_size_limit(app, limit)

        answers: Counter[int] = Counter()
        first_refusal: float | None = None
        for n in range(MAX_SUBMITS):
            response = submit(api, echo=[n, PAD])
            answers[response.status_code] += 1
            if response.status_code == 202:
                accepted.append(response.json()["id"])
                continue
            assert response.status_code == 503, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert int(response.headers["retry-after"]) > 0
            problem = response.json()
            assert problem["status"] == 503
            assert "Traceback" not in response.text
            first_refusal = first_refusal or time.monotonic()
            if answers[503] >= REFUSALS_WANTED:
                break
        assert answers[503] >= REFUSALS_WANTED, (
            f"the disk never filled: {dict(answers)}, files {files_written_by(app, data)}"
        )

        # Reads go on while the disk is full, and no job is failed for it.
        while time.monotonic() - (first_refusal or 0) < FAULT_S:
            assert app.process is not None
            assert app.process.poll() is None, app.log.read_text()[-5000:]
            listed = httpx.get(f"{app.base_url}/api/jobs?limit=100", headers=api.headers)
            assert listed.status_code == 200, listed.text
            assert not [job for job in listed.json()["items"] if job["status"] == "failed"]
            time.sleep(0.5)
        # The load balancer is told: the database still reads but takes no writes.
        unready = readiness_until(app, 503)
        assert "database:write" in unready["failed"], unready
        assert unready["checks"]["database:write"].startswith("error: "), unready
        assert unready["checks"]["database"] == "ok", unready
        during = files_written_by(app, data)
        assert during["serve.log"] < limit, "the log itself hit the limit: lines were lost"

        set_file_size_limit(app, resource.RLIM_INFINITY)
        ready = readiness_until(app, 200)
        assert ready["checks"]["database:write"] == "ok"
        for n in range(3):
            response = submit(api, echo=f"after-{n}")
            assert response.status_code == 202, response.text
            accepted.append(response.json()["id"])
        finished = [api.wait_for(job_id, TERMINAL, timeout=120) for job_id in accepted]
        assert Counter(job["status"] for job in finished) == {"completed": len(accepted)}
        assert all(job["retryCount"] == 0 for job in finished)
        log = app.log.read_text()
        app.stop()

    rows, events = events_by_job(data / "atspro.db")
    assert rows == len(accepted)  # a refused submit left nothing behind
    for job_id in accepted:
        kinds = events[job_id.replace("-", "")]
        assert kinds.count("created") == 1, kinds
        assert [kind for kind in kinds if kind in TERMINAL] == ["completed"], kinds
        assert kinds[-1] == "completed", kinds

    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    # SAQ's own report of a job that raised: with the store down, the runner says so itself.
    assert not [line for line in lines if line["event"].startswith("Error processing job")]
    offers = Counter(line["job_id"] for line in lines if line["event"] == "job.store_unavailable")
    # Offered again about once a second while the store is down, not in a hot loop.
    assert all(count <= 4 * FAULT_S + 10 for count in offers.values()), offers
