"""R15: a hypothesis state machine drives a real ``atspro serve`` (SQLite app tables, a private
Redis for queue and events) through random submits, cancels, SIGKILLs, SIGTERMs and Redis
restarts, and checks the job invariants after every step and once everything has settled."""

from __future__ import annotations

import secrets
import signal
import sqlite3
import time
from collections import defaultdict
from typing import Any, ClassVar

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from app.jobs.status import JobAction, JobStatus, transition
from tests.reliability.process import Api, AppProcess
from tests.reliability.redis_server import RedisServer

TERMINAL = {"completed", "failed", "cancelled"}
SETTLE_S = 90  # recovery bound: job_max + lease + 2 sweeps + restarts, with room to spare


class JobsUnderFaults(RuleBasedStateMachine):
    """One app and one Redis for all examples (starting them is most of the cost); each example
    follows only the jobs it submitted."""

    app: ClassVar[AppProcess]
    api: ClassVar[Api]
    redis: ClassVar[RedisServer]

    jobs = Bundle("jobs")

    def __init__(self) -> None:
        super().__init__()
        self.inputs: dict[str, dict[str, Any]] = {}
        self.last: dict[str, dict[str, Any]] = {}
        self.cancelled: set[str] = set()

    @rule(
        target=jobs,
        seconds=st.sampled_from([0.0, 0.3, 1.0, 2.5]),
        fail_times=st.integers(0, 2),
    )
    def submit(self, seconds: float, fail_times: int) -> str:
        data = {"seconds": seconds, "steps": 2 if seconds else 0, "failTimes": fail_times}
        data["echo"] = secrets.token_hex(4)
        job = self.api.submit(**data)
        self.inputs[job["id"]] = data
        return str(job["id"])

    @rule(job_id=jobs)
    def cancel(self, job_id: str) -> None:
        response = httpx.post(
            f"{self.app.base_url}/api/jobs/{job_id}/cancel", headers=self.api.headers, timeout=10
        )
        assert response.status_code in {200, 409}, response.text
        if response.status_code == 200:
            assert response.json()["status"] == "cancelled"
            self.cancelled.add(job_id)

    @rule()
    def sigkill_and_restart(self) -> None:
        self.app.kill()
        self.app.start()

    @rule()
    def sigterm_and_restart(self) -> None:
        self.app.signal(signal.SIGTERM)
        assert self.app.wait(timeout=30) == 0
        self.app.start()

    @rule()
    def redis_restart(self) -> None:
        self.redis.shutdown_nosave()
        time.sleep(0.5)
        self.redis.start()

    @rule(seconds=st.sampled_from([0.1, 0.5, 1.5]))
    def wait(self, seconds: float) -> None:
        time.sleep(seconds)

    def current(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for job_id in self.inputs:
            found[job_id] = self.api.job(job_id)
        return found

    @invariant()
    def jobs_only_move_forward(self) -> None:
        """No job leaves a terminal state, attempts never go back, retries stay within bounds,
        and a job whose cancel was accepted is cancelled."""
        for job_id, job in self.current().items():
            assert job["status"] in {status.value for status in JobStatus}
            before = self.last.get(job_id)
            if before is not None:
                if before["status"] in TERMINAL:
                    assert job["status"] == before["status"], (before, job)
                assert job["attempt"] >= before["attempt"]
            assert job["retryCount"] <= job["maxRetries"]
            if job_id in self.cancelled:
                assert job["status"] == "cancelled", job
            self.last[job_id] = job

    def teardown(self) -> None:
        if self.app.process is None or self.app.process.poll() is not None:
            self.app.start()
        self.settle()

    def settle(self) -> None:
        """Every job ends, once, along allowed transitions, with its own result."""
        for job_id in self.inputs:
            job = self.api.wait_for(job_id, TERMINAL, timeout=SETTLE_S)
            assert job["status"] in TERMINAL, job
            data = self.inputs[job_id]
            if job["status"] == "completed":
                assert job_id not in self.cancelled
                assert job["resultData"]["echo"] == data["echo"]
                assert job["resultData"]["attempt"] > data["failTimes"]
            elif job["status"] == "failed":
                pytest.fail(f"a job failed: {job}")  # fail_times < max_retries: none may fail
            else:
                assert job["resultData"] is None
        self.check_event_logs()

    def check_event_logs(self) -> None:
        """Replaying each job's events through the transition table: every step allowed, one
        terminal event, at the end."""
        database = self.app.env["ATSPRO_DATA_DIR"] + "/atspro.db"
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
            rows = connection.execute("SELECT job_id, type FROM job_events ORDER BY id").fetchall()
        events: dict[str, list[str]] = defaultdict(list)
        for job_id, kind in rows:
            events[str(job_id).replace("-", "")].append(kind)
        for job_id in self.inputs:
            kinds = events[job_id.replace("-", "")]
            status: JobStatus | None = None
            for kind in kinds:
                status = transition(status, JobAction(kind))
            assert status is not None
            assert status.is_terminal, kinds
            assert sum(JobStatus(k).is_terminal for k in kinds if k in TERMINAL) == 1, kinds


@pytest.mark.timeout(600)
def test_random_faults_keep_every_invariant(tmp_path_factory: pytest.TempPathFactory) -> None:
    """R15: random submit / cancel / SIGKILL / SIGTERM / Redis-restart sequences against a real
    process: after each step no job leaves a terminal state or goes back an attempt, and in the
    end every job is terminal exactly once, along allowed transitions only, with its own result
    (never one after an accepted cancel)."""
    root = tmp_path_factory.mktemp("stateful")
    redis = RedisServer(root / "redis")
    redis.start()
    app = AppProcess(
        root / "data",
        ATSPRO_QUEUE_URL=redis.url,
        REDIS_URL=redis.url,
        ATSPRO_SHUTDOWN_GRACE_S="0.5",
        ATSPRO_RATE_LIMIT_SUBMIT="off",
        ATSPRO_RETRY_BASE_DELAY_S="0.05",
        ATSPRO_RETRY_MAX_DELAY_S="0.2",
        ATSPRO_MAX_STALLS="25",  # kills here are the test's, not a poison job's
    )
    try:
        app.start()
        JobsUnderFaults.app = app
        JobsUnderFaults.redis = redis
        JobsUnderFaults.api = Api(app, app.create_user("stateful@example.com"))
        machine = settings(
            max_examples=4,
            stateful_step_count=8,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )(JobsUnderFaults)
        machine.TestCase().runTest()
    finally:
        app.stop()
        redis.stop()
