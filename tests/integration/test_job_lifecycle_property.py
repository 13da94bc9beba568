"""Stateful property test of JobService: random users' and workers' actions, invariants after each.

Drives the real service on a real SQLite database (no worker runs; the test plays the worker) and
checks after every step that the table agrees with a model, that no job left a terminal state
except by a manual retry, that progress never went backwards within an attempt, and that writes
of stale attempts changed nothing. At the end every job is driven to a terminal state.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from app.auth import AuthService
from app.db import make_database, utcnow
from app.errors import Conflict, ErrorKind
from app.jobs.events import InProcessBus
from app.jobs.service import QUEUE_NAMES, JobService
from app.migrate import upgrade
from app.queues import make_queue
from app.settings import Settings
from app.tasks.registry import TaskRegistry

TERMINAL = {"completed", "failed", "cancelled"}


class World:
    """One event loop, database and service shared by all examples (each example: a new user)."""

    def __init__(self, data_dir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.now = utcnow()
        self.settings = Settings(
            data_dir=data_dir,
            lease_s=30,
            max_stalls=3,
            max_retries=2,
            progress_event_interval_s=0,
        )
        upgrade(self.settings.resolved_database_url)
        self.db = make_database(self.settings.resolved_database_url)
        self.queues = {n: make_queue(self.settings.resolved_queue_url, n) for n in QUEUE_NAMES}
        for queue in self.queues.values():
            self.run(queue.connect())
        self.service = JobService(
            db=self.db,
            queues=self.queues,
            bus=InProcessBus(),
            registry=TaskRegistry.load(),
            settings=self.settings,
            clock=lambda: self.now,
        )
        self.auth = AuthService(self.db)

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        for queue in self.queues.values():
            self.run(queue.disconnect())
        self.run(self.db.close())
        self.loop.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    world = World(tmp_path_factory.mktemp("lifecycle") / "data")
    yield world
    world.close()


class Lifecycle(RuleBasedStateMachine):
    world: World
    jobs = Bundle("jobs")

    @initialize()
    def new_user(self) -> None:
        user, _ = self.world.run(self.world.auth.create_user(f"{uuid.uuid4().hex}@example.com"))
        self.user_id = user.id
        self.model: dict[uuid.UUID, dict[str, Any]] = {}

    # --- helpers -----------------------------------------------------------------------------

    def row(self, job_id: uuid.UUID) -> Any:
        return self.world.run(self.world.service.get(self.user_id, job_id))

    def expect(self, job_id: uuid.UUID, **fields: Any) -> None:
        self.model[job_id].update(fields)

    # --- users -------------------------------------------------------------------------------

    @rule(target=jobs, priority=st.integers(1, 10))
    def submit(self, priority: int) -> uuid.UUID:
        job = self.world.run(
            self.world.service.submit(self.user_id, "diagnostic.echo", {}, priority=priority)
        )
        self.model[job.id] = {"status": "pending", "attempt": 0, "progress": 0, "retries": 0}
        return job.id

    @rule(job_id=jobs)
    def cancel(self, job_id: uuid.UUID) -> None:
        before = self.model[job_id]["status"]
        if before in TERMINAL:
            with pytest.raises(Conflict):
                self.world.run(self.world.service.cancel(self.user_id, job_id))
            return
        self.world.run(self.world.service.cancel(self.user_id, job_id))
        self.expect(job_id, status="cancelled")

    @rule(job_id=jobs)
    def manual_retry(self, job_id: uuid.UUID) -> None:
        if self.model[job_id]["status"] not in {"failed", "cancelled"}:
            with pytest.raises(Conflict):
                self.world.run(self.world.service.retry(self.user_id, job_id))
            return
        self.world.run(self.world.service.retry(self.user_id, job_id))
        self.expect(job_id, status="pending", retries=0)

    # --- the worker, played by the test --------------------------------------------------------

    @rule(job_id=jobs)
    def start(self, job_id: uuid.UUID) -> None:
        job = self.world.run(self.world.service.start(job_id, worker_id="test"))
        if self.model[job_id]["status"] == "pending":
            assert job is not None
            attempt = self.model[job_id]["attempt"] + 1
            assert job.attempt == attempt
            self.expect(job_id, status="running", attempt=attempt, progress=0)
        else:
            assert job is None

    @rule(job_id=jobs, percent=st.integers(0, 100))
    def progress(self, job_id: uuid.UUID, percent: int) -> None:
        state = self.model[job_id]
        ok = self.world.run(
            self.world.service.progress(job_id, state["attempt"], percent, "step", now_s=0)
        )
        assert ok == (state["status"] == "running")
        if ok:
            self.expect(job_id, progress=max(state["progress"], percent))

    @rule(job_id=jobs, outcome=st.sampled_from(["complete", "fail", "retry"]))
    def finish(self, job_id: uuid.UUID, outcome: str) -> None:
        state = self.model[job_id]
        service = self.world.service
        attempt = state["attempt"]
        if outcome == "complete":
            job = self.world.run(service.complete(job_id, attempt, {"ok": True}))
            new = {"status": "completed", "progress": 100}
        elif outcome == "fail":
            job = self.world.run(service.fail(job_id, attempt, ErrorKind.USER, "bad", None))
            new = {"status": "failed"}
        else:
            job = self.world.run(service.schedule_retry(job_id, attempt, "later", None, 0.01))
            new = {"status": "pending", "retries": state["retries"] + 1}
        assert (job is not None) == (state["status"] == "running")
        if job is not None:
            self.expect(job_id, **new)

    @rule(job_id=jobs)
    def stale_write(self, job_id: uuid.UUID) -> None:
        state = self.model[job_id]
        stale = state["attempt"] - 1
        assert self.world.run(self.world.service.complete(job_id, stale, {"stale": 1})) is None

    @rule()
    def worker_dies(self) -> None:
        """Time passes beyond every lease: the reaper requeues (or fails) every running job."""
        self.world.now += timedelta(seconds=self.world.settings.lease_s + 1)
        self.world.run(self.world.service.reap_expired())
        for job_id, state in self.model.items():
            if state["status"] == "running":
                job = self.row(job_id)
                assert job.status in {"pending", "failed"}
                self.expect(job_id, status=job.status)

    # --- invariants --------------------------------------------------------------------------

    @invariant()
    def table_agrees_with_model(self) -> None:
        model = getattr(self, "model", {})
        if not model:
            return
        rows, _ = self.world.run(self.world.service.list(self.user_id, limit=200))
        assert {job.id for job in rows} == set(model)
        for job in rows:
            job_id, state = job.id, model[job.id]
            assert job.status == state["status"], (job_id, job.status, state)
            assert job.attempt == state["attempt"]
            assert job.retry_count == state["retries"]
            if job.status == "running":
                assert job.progress == state["progress"]
            assert (job.completed_at is not None) == (job.status in TERMINAL)

    def teardown(self) -> None:
        """Every job can still be driven to exactly one terminal state."""
        for job_id, state in getattr(self, "model", {}).items():
            if state["status"] not in TERMINAL:
                self.world.run(self.world.service.cancel(self.user_id, job_id))
            events = self.world.run(self.world.service.events_after(self.user_id, 0, job_id))
            terminal_after_last_retry = 0
            for event in events:
                if event.type == "retried":
                    terminal_after_last_retry = 0
                elif event.type in TERMINAL:
                    terminal_after_last_retry += 1
            assert terminal_after_last_retry == 1


def test_job_lifecycle_invariants(world: World) -> None:
    """R15: Random submit/start/progress/finish/cancel/retry/reap sequences keep every invariant."""
    Lifecycle.world = world
    run_state_machine_as_test(
        Lifecycle,
        settings=settings(
            max_examples=60,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
