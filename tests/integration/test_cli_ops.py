"""`atspro status` and `atspro cleanup` against a real app's data, as operators run them."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.reliability.process import Api, app_process


def test_status_reports_backlog_running_jobs_and_workers(tmp_path: Path) -> None:
    """With one default worker slot busy: one running and one pending job in `default`, the
    pending one named as the oldest pending job, and the live app's worker listed."""
    with app_process(tmp_path / "data", ATSPRO_CONCURRENCY_DEFAULT="1") as app:
        api = Api(app, app.create_user("ops@example.com"))
        app.start()
        first = api.submit(seconds=60, steps=60)
        api.wait_for(first["id"], {"running"})
        second = api.submit(seconds=60, steps=60)
        deadline = time.monotonic() + 30
        while True:
            report: dict[str, Any] = json.loads(app.cli("status"))
            if report["queues"]["default"]["workers"] or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert report["queues"]["default"]["workers"] == 1
        [worker_id] = report["queues"]["default"]["workerIds"]
        assert worker_id.endswith("/default")
        assert report["jobs"]["running"] == {"default": 1}
        assert report["jobs"]["pending"] == {"default": 1}
        oldest = report["jobs"]["oldestPending"]
        assert oldest["id"] == second["id"]
        assert oldest["jobType"] == "diagnostic.echo"
        assert oldest["ageS"] >= 0


def test_cleanup_command_dry_run_then_delete(tmp_path: Path) -> None:
    """`atspro cleanup --dry-run` reports the finished job past retention and deletes nothing;
    `atspro cleanup` deletes it; a second dry run finds nothing."""
    with app_process(tmp_path / "data") as app:
        api = Api(app, app.create_user("clean@example.com"))
        app.start()
        job = api.submit(echo="old")
        api.wait_for(job["id"], {"completed"})
        app.stop()
        app.env["ATSPRO_RETAIN_COMPLETED_DAYS"] = "0.00001"  # under a second
        time.sleep(1.5)

        dry = json.loads(app.cli("cleanup", "--dry-run"))
        assert dry["dryRun"] is True
        assert dry["jobs"]["completed"] == 1
        assert dry["events"] >= 3  # submitted, started, completed
        assert dry["queueEntries"] == 1  # SAQ keeps a finished job's record for an hour
        assert json.loads(app.cli("cleanup", "--dry-run"))["jobs"]["completed"] == 1

        done = json.loads(app.cli("cleanup"))
        assert done["dryRun"] is False
        assert done["jobs"]["completed"] == 1
        assert (done["events"], done["queueEntries"]) == (dry["events"], 1)
        assert json.loads(app.cli("cleanup", "--dry-run"))["jobs"]["completed"] == 0
