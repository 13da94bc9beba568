"""D2: a SQLite soak. One ``atspro serve`` on SQLite (app tables and queue) with 8 worker slots,
and concurrent API writers submitting, cancelling and listing for ``ATSPRO_SOAK_S`` seconds
(15 in the suite; ``make soak`` runs the note's 60 s). Then the books must balance.

Contention alone (claims by many dequeuers) is ``tests/integration/queues/test_contract.py``;
this is the whole product under sustained mixed load.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reliability.process import Api, AppProcess, app_process

SOAK_S = float(os.environ.get("ATSPRO_SOAK_S", "15"))
WRITERS = 6
SLOTS = 8
TERMINAL = {"completed", "failed", "cancelled"}
LOCKED = ("database is locked", "SQLITE_BUSY", "database table is locked")


@dataclass
class Writer:
    """One API client's share of the load, and what the server answered it."""

    api: Api
    seed: int
    accepted: dict[str, Any] = field(default_factory=dict)  # job id -> what it echoes
    cancelled: set[str] = field(default_factory=set)  # cancels answered 200
    refused: set[str] = field(default_factory=set)  # cancels answered 409 (already finished)
    answers: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)

    def run(self, until: float) -> None:
        rng = random.Random(self.seed)
        base = self.api.app.base_url
        with httpx.Client(base_url=base, headers=self.api.headers, timeout=60) as client:
            n = 0
            while time.monotonic() < until:
                roll = rng.random()
                if roll < 0.55 or not self.accepted:
                    n += 1
                    echo = f"{self.seed}-{n}"
                    seconds = rng.choice([0, 0, 0.05, 0.2, 0.5])
                    body = {"echo": echo, "seconds": seconds, "steps": rng.choice([0, 2])}
                    response = client.post(
                        "/api/jobs", json={"jobType": "diagnostic.echo", "inputData": body}
                    )
                    self.note("submit", response)
                    if response.status_code == 202:
                        self.accepted[response.json()["id"]] = echo
                elif roll < 0.75:
                    job_id = rng.choice(list(self.accepted))
                    response = client.post(f"/api/jobs/{job_id}/cancel")
                    self.note("cancel", response)
                    if response.status_code == 200:
                        self.cancelled.add(job_id)
                    elif response.status_code == 409:
                        self.refused.add(job_id)
                elif roll < 0.9:
                    self.note("list", client.get("/api/jobs", params={"limit": 50}))
                else:
                    job_id = rng.choice(list(self.accepted))
                    self.note("read", client.get(f"/api/jobs/{job_id}"))

    def note(self, kind: str, response: httpx.Response) -> None:
        self.answers[f"{kind} {response.status_code}"] += 1
        if response.status_code >= 500:
            self.server_errors.append(f"{kind} {response.status_code}: {response.text[:300]}")


def drained(app: AppProcess, api: Api, job_ids: list[str], timeout: float) -> dict[str, str]:
    """Every job's status once none is left pending or running (or when ``timeout`` ends)."""
    deadline = time.monotonic() + timeout
    statuses: dict[str, str] = {}
    while True:
        statuses = {}
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            page = httpx.get(
                f"{app.base_url}/api/jobs", params=params, headers=api.headers, timeout=60
            ).json()
            statuses.update({job["id"]: job["status"] for job in page["items"]})
            cursor = page.get("nextCursor")
            if not cursor:
                break
        if all(statuses.get(job_id) in TERMINAL for job_id in job_ids):
            return statuses
        if time.monotonic() > deadline:
            return statuses
        time.sleep(0.5)


@pytest.mark.timeout(SOAK_S + 240)
def test_sqlite_soak_keeps_every_job_and_event_straight(tmp_path: Path) -> None:
    """D2: six API clients submit, cancel and list against a one-process app on SQLite with 8
    worker slots for ATSPRO_SOAK_S seconds. No answer is a 5xx; the server log never mentions a
    locked database; once drained, every accepted job is one row in exactly one terminal state
    (cancelled if a cancel was accepted, completed with its own echo otherwise), with exactly one
    created event and one terminal event, its last; and the queue is empty."""
    data = tmp_path / "data"
    with app_process(
        data,
        ATSPRO_RATE_LIMIT_SUBMIT="off",
        ATSPRO_CONCURRENCY_DEFAULT=str(SLOTS),
        ATSPRO_LOG_LEVEL="warning",
    ) as app:
        app.start()
        # One account: every writer's jobs share a user (the list reads see them all), each
        # writer with its own token, as several scripts of one user would.
        token = app.create_user("soak@example.com")
        writers = [Writer(Api(app, token), seed) for seed in range(WRITERS)]
        until = time.monotonic() + SOAK_S
        threads = [threading.Thread(target=writer.run, args=(until,)) for writer in writers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=SOAK_S + 120)
        assert not any(thread.is_alive() for thread in threads)

        errors = [error for writer in writers for error in writer.server_errors]
        assert not errors, errors[:10]
        accepted = {job_id: echo for w in writers for job_id, echo in w.accepted.items()}
        cancelled = set().union(*(w.cancelled for w in writers))
        answers = sum((w.answers for w in writers), Counter[str]())
        assert answers["submit 202"] == len(accepted) > 0
        assert set(answers) <= {"submit 202", "cancel 200", "cancel 409", "list 200", "read 200"}

        statuses = drained(app, writers[0].api, list(accepted), timeout=120)
        assert all(statuses.get(job_id) in TERMINAL for job_id in accepted), Counter(
            statuses.get(job_id) for job_id in accepted
        )
        ready = httpx.get(f"{app.base_url}/readyz", timeout=10).json()
        queues = {name: check for name, check in ready["checks"].items() if name[:6] == "queue:"}
        assert all(q["queued"] == 0 and q["active"] == 0 for q in queues.values()), queues
        print(  # the figures of a run, for the catalogue (pytest -s)
            f"soak {SOAK_S:.0f} s: {sum(answers.values())} requests "
            f"({dict(sorted(answers.items()))}), {len(accepted)} jobs, "
            f"{Counter(statuses[job_id] for job_id in accepted)}"
        )
        app.stop()
        log = app.log.read_text()

    for phrase in LOCKED:
        assert phrase not in log, phrase
    assert "Error processing job" not in log

    connection = sqlite3.connect(data / "atspro.db")
    try:
        rows = {
            str(job_id): (status, result)
            for job_id, status, result in connection.execute(
                "SELECT id, status, json_extract(result_data, '$.echo') FROM background_jobs"
            )
        }
        events: dict[str, list[str]] = {}
        for job_id, kind in connection.execute("SELECT job_id, type FROM job_events ORDER BY id"):
            events.setdefault(str(job_id), []).append(kind)
    finally:
        connection.close()

    def key(job_id: str) -> str:
        return job_id.replace("-", "")  # SQLite keeps UUIDs as 32 hex digits

    assert sorted(rows) == sorted(key(job_id) for job_id in accepted)
    for job_id, echo in accepted.items():
        status, result = rows[key(job_id)]
        if job_id in cancelled:
            assert status == "cancelled", job_id
        else:
            assert status in {"completed", "cancelled"}, (job_id, status)
        if status == "completed":
            assert result == echo
        kinds = events[key(job_id)]
        assert kinds.count("created") == 1, kinds
        assert kinds[0] == "created", kinds
        assert [kind for kind in kinds if kind in TERMINAL] == [status], kinds
        assert kinds[-1] == status, kinds
