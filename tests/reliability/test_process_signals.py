"""Real signals on a real `atspro serve`: every accepted job ends in exactly one terminal state."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.reliability.process import Api, app_process

TERMINAL = {"completed", "failed", "cancelled"}


def test_sigkill_mid_job_then_restart_finishes_every_job(tmp_path: Path) -> None:
    """R2: SIGKILL of the one-process app mid-job; after a restart every job completes, and the
    interrupted ones spent no retry."""
    with app_process(tmp_path / "data") as app:
        app.start()
        api = Api(app, app.create_user("kill@example.com"))
        jobs = [api.submit(seconds=1.5, steps=3, echo=i) for i in range(6)]
        running = api.wait_for(jobs[0]["id"], {"running"})
        assert running["status"] == "running"
        app.kill()

        app.start()
        finished = [api.wait_for(job["id"], TERMINAL) for job in jobs]
        assert [job["status"] for job in finished] == ["completed"] * len(jobs)
        assert [job["resultData"]["echo"] for job in finished] == list(range(6))
        assert all(job["retryCount"] == 0 for job in finished)
        assert finished[0]["attempt"] >= 2  # it was running at the kill: run again


def test_sigterm_requeues_running_jobs_and_exits_0(tmp_path: Path) -> None:
    """R3: SIGTERM with a long job running and a short grace: exit 0, the job goes back to pending
    without spending a retry, and completes after a restart."""
    with app_process(tmp_path / "data", ATSPRO_SHUTDOWN_GRACE_S="0.5") as app:
        app.start()
        api = Api(app, app.create_user("term@example.com"))
        job = api.submit(seconds=4, steps=8)
        assert api.wait_for(job["id"], {"running"})["status"] == "running"
        started = time.monotonic()
        app.signal(signal.SIGTERM)
        assert app.wait(timeout=30) == 0
        assert time.monotonic() - started < 20

        app.start()
        after_restart = api.job(job["id"])
        assert after_restart["status"] in {"pending", "running", "completed"}
        done = api.wait_for(job["id"], TERMINAL)
        assert done["status"] == "completed"
        assert done["retryCount"] == 0
        assert done["attempt"] == 2


def test_sigterm_lets_running_jobs_finish_within_the_grace(tmp_path: Path) -> None:
    """R3: a job that needs less than the grace period finishes before the process exits 0."""
    with app_process(tmp_path / "data", ATSPRO_SHUTDOWN_GRACE_S="10") as app:
        app.start()
        api = Api(app, app.create_user("grace@example.com"))
        job = api.submit(seconds=1.5, steps=3)
        assert api.wait_for(job["id"], {"running"})["status"] == "running"
        app.signal(signal.SIGTERM)
        assert app.wait(timeout=30) == 0
        app.start()
        done = api.job(job["id"])
        assert done["status"] == "completed"
        assert done["attempt"] == 1


def test_second_signal_forces_exit(tmp_path: Path) -> None:
    """R3: A second SIGTERM during a long grace exits at once; the job is recovered after
    restart."""
    with app_process(tmp_path / "data", ATSPRO_SHUTDOWN_GRACE_S="60") as app:
        app.start()
        api = Api(app, app.create_user("force@example.com"))
        job = api.submit(seconds=30, steps=30)
        assert api.wait_for(job["id"], {"running"})["status"] == "running"
        app.signal(signal.SIGTERM)
        time.sleep(0.5)
        started = time.monotonic()
        app.signal(signal.SIGTERM)
        assert app.wait(timeout=15) != 0
        assert time.monotonic() - started < 10
        app.start()
        # Its lease expires, the reaper puts it back, and a second attempt starts.
        again = api.wait_until(job["id"], lambda job: job["attempt"] >= 2, timeout=60)
        assert again["attempt"] >= 2
        assert again["status"] in {"pending", "running"}
        assert again["retryCount"] == 0
