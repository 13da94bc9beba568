"""``python -m bench.statements``: the job table's hot write statements alone, on a real SQLite
file, for the optimisations proposed in ``bench/PROFILE.md``.

Each variant completes ``--jobs`` running jobs, ten per transaction as the group-committing
writer does, on the app's own engine (its PRAGMAs); five interleaved repetitions, minimum and
median shown. Variants:

* ``store.change`` + event: what ``JobService.complete`` runs (prepared on SQLite,
  ``app.db.execute``);
* ``store.change`` without its event row;
* the same UPDATE … RETURNING through Core's ``Connection.execute`` (what every write cost
  before ``app.db.execute``), built with ``status IN ('running')`` (an *expanding* parameter,
  re-rendered into the SQL on every execution) and with ``status = 'running'``;
* one event row through ``store.add_event`` (``snapshot`` + JSON column type), the same row as
  JSON text through ``exec_driver_sql``, and ``snapshot`` alone.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

from app.db import SQLiteDatabase
from app.jobs import store
from app.jobs.status import JobStatus
from app.jobs.store import jobs as job_table
from app.migrate import upgrade
from app.models import User
from bench.stats import markdown_table

GROUP = 10  # writes per transaction, as the writer's group commits under load
COMPLETED = {
    "status": "completed",
    "progress": 100,
    "result_data": {"echo": None, "attempt": 1, "steps": 0},
    "lease_expires_at": None,
}


class Bench:
    def __init__(self, directory: Path, jobs: int) -> None:
        url = f"sqlite+aiosqlite:///{directory / 'atspro.db'}"
        upgrade(url)
        self.engine = SQLiteDatabase(url).engine
        self.jobs = jobs
        self.now = datetime.now(UTC)
        self.user_id = uuid.uuid4()
        with self.engine.begin() as connection:
            connection.execute(
                insert(User.__table__).values(
                    id=self.user_id, email="bench@example.com", is_admin=False, created_at=self.now
                )
            )
        self.samples: dict[str, list[float]] = {}

    def running_jobs(self) -> list[uuid.UUID]:
        ids = [uuid.uuid4() for _ in range(self.jobs)]
        values = [
            {
                "id": job_id,
                "user_id": self.user_id,
                "job_type": "diagnostic.echo",
                "status": "running",
                "priority": 5,
                "queue": "default",
                "progress": 0,
                "input_data": {},
                "retry_count": 0,
                "max_retries": 3,
                "attempt": 1,
                "stall_count": 0,
                "created_at": self.now,
                "updated_at": self.now,
                "started_at": self.now,
            }
            for job_id in ids
        ]
        with self.engine.begin() as connection:
            connection.execute(insert(job_table), values)
        return ids

    def time(self, label: str, write: Callable[[Connection, uuid.UUID], Any]) -> None:
        ids = self.running_jobs()
        began = time.perf_counter()
        for start in range(0, len(ids), GROUP):
            with self.engine.begin() as connection:
                for job_id in ids[start : start + GROUP]:
                    write(connection, job_id)
        per_job = (time.perf_counter() - began) / len(ids) * 1e6
        self.samples.setdefault(label, []).append(per_job)


def completed_update(in_list: bool) -> Any:
    status = job_table.c.status
    conditions = [
        job_table.c.id == bindparam("w_job_id"),
        status.in_(["running"]) if in_list else status == "running",
        job_table.c.attempt == bindparam("w_attempt"),
    ]
    values: dict[str, Any] = {
        key: bindparam(f"v_{key}", type_=job_table.c[key].type) for key in COMPLETED
    }
    values["completed_at"] = bindparam("v_completed_at", type_=job_table.c.completed_at.type)
    values["updated_at"] = bindparam("v_updated_at", type_=job_table.c.updated_at.type)
    return update(job_table).where(*conditions).values(values).returning(*job_table.c)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.statements", description=__doc__)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-statements-") as tmp:
        bench = Bench(Path(tmp), args.jobs)
        now = bench.now
        values = {**COMPLETED, "completed_at": now}
        params = {f"v_{key}": value for key, value in values.items()}
        params.update(w_attempt=1, v_updated_at=now)
        with_in, with_eq = completed_update(in_list=True), completed_update(in_list=False)

        def change(event: str | None) -> Callable[[Connection, uuid.UUID], Any]:
            return lambda connection, job_id: store.change(
                connection,
                job_id,
                sources={JobStatus.RUNNING},
                values=values,
                event_type=event,
                now=now,
                attempt=1,
            )

        def run(statement: Any) -> Callable[[Connection, uuid.UUID], Any]:
            return lambda connection, job_id: connection.execute(
                statement, {**params, "w_job_id": job_id}
            ).one()

        rows_by_id: dict[uuid.UUID, Any] = {}

        def event_today(connection: Connection, job_id: uuid.UUID) -> None:
            row = (
                rows_by_id.get(job_id)
                or connection.execute(select(job_table).where(job_table.c.id == job_id)).one()
            )
            rows_by_id[job_id] = row
            began = time.perf_counter()
            store.add_event(connection, row, "completed", now)
            event_cost.setdefault("today", []).append(time.perf_counter() - began)

        def event_raw(connection: Connection, job_id: uuid.UUID) -> None:
            row = (
                rows_by_id.get(job_id)
                or connection.execute(select(job_table).where(job_table.c.id == job_id)).one()
            )
            rows_by_id[job_id] = row
            began = time.perf_counter()
            payload = json.dumps(store.snapshot(row), separators=(",", ":"))
            connection.exec_driver_sql(
                "INSERT INTO job_events (job_id, user_id, type, payload, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (row.id.hex, row.user_id.hex, "completed", payload, now.isoformat(" ")[:26]),
            )
            event_cost.setdefault("raw", []).append(time.perf_counter() - began)

        event_cost: dict[str, list[float]] = {}
        variants = {
            "store.change + event row (app.db.execute)": change("completed"),
            "store.change, no event row (app.db.execute)": change(None),
            "Core: UPDATE … status IN ('running') RETURNING *": run(with_in),
            "Core: UPDATE … status = 'running' RETURNING *": run(with_eq),
            "event row alone: store.add_event (app.db.execute)": event_today,
            "event row alone: exec_driver_sql, JSON text": event_raw,
        }
        for _ in range(args.reps):
            for label, write in variants.items():
                bench.time(label, write)
        with bench.engine.connect() as connection:
            rows = connection.execute(select(job_table).limit(500)).all()
        began = time.perf_counter()
        for row in rows:
            store.snapshot(row)
        snapshot_us = (time.perf_counter() - began) / len(rows) * 1e6
    for key, label in (
        ("today", "event row alone: store.add_event (app.db.execute)"),
        ("raw", "event row alone: exec_driver_sql, JSON text"),
    ):
        per_rep = [
            statistics.fmean(event_cost[key][i :: args.reps]) * 1e6 for i in range(args.reps)
        ]
        bench.samples[label] = per_rep  # the INSERT only, without the lookup of the row
    table = [
        [label, f"{min(s):,.0f}", f"{statistics.median(s):,.0f}"]
        for label, s in bench.samples.items()
    ]
    table.append(
        ["store.snapshot(row) alone (from JobRead's field list)", f"{snapshot_us:,.0f}", ""]
    )
    print(markdown_table(["per completed job", "min µs", "median µs"], table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
