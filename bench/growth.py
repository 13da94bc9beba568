"""``python -m bench.growth``: what a growing job table costs the one-process product on SQLite.

For each size (default 1k, 10k, 100k finished jobs), a fresh data directory is migrated, one user
gets that many finished jobs (90 % completed, 8 % failed, 2 % cancelled, one per second back in
time) with three events each, bulk-inserted straight into the SQLite file with SQLAlchemy Core,
plus a second user with 20 jobs. Then the app starts on that file (in-process uvicorn, workers
on, ``bench.product.serve``) and we measure:

* start-up time (lifespan: migrations check, recovery scan, workers up);
* ``GET /api/jobs`` p50/p99 over ``--requests`` calls for the heavy user, the same filtered by
  ``?status=failed``, and for the light user (first page of 50, newest first);
* throughput: ``--jobs`` no-op jobs submitted by the heavy user through ``JobService.submit`` and
  drained at concurrency 10 (first submit → last completion), and their submit → start p50.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, insert, select

from app.lifespan import build
from app.models import BackgroundJob, JobEvent
from app.settings import Settings
from bench.common import CONCURRENCY, wait_until
from bench.product import JOB_TYPE, serve
from bench.stats import fmt, markdown_table, percentile

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CHUNK = 5000
LIGHT_JOBS = 20


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.growth", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", "1000,10000,100000"))
    parser.add_argument("--requests", type=int, default=100, help="GET /api/jobs calls per case")
    parser.add_argument("--jobs", type=int, default=500, help="no-op jobs for the throughput")
    parser.add_argument("--quick", action="store_true", help="sizes 100 and 1000, few requests")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.requests, args.jobs = "100,1000", 10, 40
    args.sizes = [int(size) for size in args.sizes.split(",")]
    return args


def _jobs_and_events(
    user_id: uuid.UUID, count: int, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    jobs: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for n in range(count):
        job_id = uuid.uuid4()
        created = now - timedelta(seconds=count - n)
        status = "completed" if n % 50 >= 5 else ("failed" if n % 50 >= 1 else "cancelled")
        jobs.append(
            {
                "id": job_id,
                "user_id": user_id,
                "job_type": JOB_TYPE,
                "status": status,
                "priority": 5,
                "queue": "default",
                "progress": 100 if status == "completed" else 0,
                "input_data": {"seconds": 0, "steps": 0, "echo": f"job {n}"},
                "result_data": {"echo": f"job {n}", "attempt": 1, "steps": 0}
                if status == "completed"
                else None,
                "error_message": "diagnostic failure" if status == "failed" else None,
                "error_kind": "internal" if status == "failed" else None,
                "retry_count": 0,
                "max_retries": 3,
                "attempt": 1,
                "stall_count": 0,
                "worker_id": "bench/1/default",
                "created_at": created,
                "updated_at": created + timedelta(milliseconds=30),
                "started_at": created + timedelta(milliseconds=10),
                "completed_at": created + timedelta(milliseconds=30),
            }
        )
        for offset, kind in ((0, "created"), (10, "started"), (30, status)):
            events.append(
                {
                    "job_id": job_id,
                    "user_id": user_id,
                    "type": kind,
                    "payload": {"id": str(job_id), "status": kind, "jobType": JOB_TYPE},
                    "created_at": created + timedelta(milliseconds=offset),
                }
            )
    return jobs, events


def bulk_insert(database_url: str, rows: list[tuple[uuid.UUID, int]]) -> float:
    """``rows``: (user, how many finished jobs) inserted in chunks; returns the seconds taken."""
    engine = create_engine(database_url.replace("sqlite+aiosqlite://", "sqlite://", 1))
    began = time.perf_counter()
    now = datetime.now(UTC) - timedelta(minutes=1)
    try:
        for user_id, count in rows:
            jobs, events = _jobs_and_events(user_id, count, now)
            with engine.begin() as connection:
                for start in range(0, len(jobs), CHUNK):
                    connection.execute(insert(BackgroundJob), jobs[start : start + CHUNK])
                for start in range(0, len(events), CHUNK):
                    connection.execute(insert(JobEvent), events[start : start + CHUNK])
    finally:
        engine.dispose()
    return time.perf_counter() - began


async def _timed_gets(client: httpx.AsyncClient, path: str, token: str, count: int) -> list[float]:
    samples = []
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(count):
        began = time.perf_counter()
        response = await client.get(path, headers=headers)
        samples.append((time.perf_counter() - began) * 1000)
        response.raise_for_status()
    return samples


async def measure(size: int, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-growth-") as tmp:
        settings = Settings(
            data_dir=Path(tmp) / "data",
            log_level="warning",
            progress_event_interval_s=0,
            concurrency_default=CONCURRENCY,
            shutdown_grace_s=1,
        )
        async with build(settings) as container:  # migrates; users through the service
            heavy, heavy_token = await container.auth.create_user("heavy@example.com")
            light, light_token = await container.auth.create_user("light@example.com")
        insert_s = await asyncio.to_thread(
            bulk_insert, settings.resolved_database_url, [(heavy.id, size), (light.id, LIGHT_JOBS)]
        )
        db_file = settings.data_dir / "atspro.db"
        out: dict[str, Any] = {
            "size": size,
            "insert_s": insert_s,
            "db_mib": db_file.stat().st_size / 2**20,
        }
        began = time.perf_counter()
        async with serve(settings) as (app, base_url):
            out["startup_s"] = time.perf_counter() - began
            async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
                for name, path, token in (
                    ("list_heavy", "/api/jobs", heavy_token),
                    ("list_heavy_failed", "/api/jobs?status=failed", heavy_token),
                    ("list_light", "/api/jobs", light_token),
                ):
                    await _timed_gets(client, path, token, 3)  # warm the caches
                    samples = await _timed_gets(client, path, token, args.requests)
                    out[f"{name}_p50"] = percentile(samples, 50)
                    out[f"{name}_p99"] = percentile(samples, 99)
            out.update(await _throughput(app.state.container, heavy.id, args.jobs))
    out["loadavg1"] = os.getloadavg()[0]
    return out


async def _throughput(container: Any, user_id: uuid.UUID, jobs: int) -> dict[str, Any]:
    ids = []
    began = time.time()
    for _ in range(jobs):
        ids.append((await container.jobs.submit(user_id, JOB_TYPE, {}, priority=5)).id)
    submitted = time.time()
    query = select(func.count()).where(
        BackgroundJob.id.in_(ids), BackgroundJob.status == "completed"
    )

    async def drained() -> bool:
        return int(await container.db.read(lambda c: c.scalar(query)) or 0) >= jobs

    await wait_until(drained, 300, f"{jobs} jobs on a grown table", interval_s=0.05)
    rows = await container.db.read(
        lambda c: c.execute(
            select(
                BackgroundJob.created_at, BackgroundJob.started_at, BackgroundJob.completed_at
            ).where(BackgroundJob.id.in_(ids))
        ).all()
    )
    last = max(row.completed_at.timestamp() for row in rows)
    starts = [(row.started_at - row.created_at).total_seconds() * 1000 for row in rows]
    return {
        "submit_rate": jobs / (submitted - began),
        "drain_rate": jobs / (last - began),
        "start_p50": percentile(starts, 50),
    }


def render(results: list[dict[str, Any]]) -> str:
    header = [
        "jobs in table",
        "db MiB",
        "insert s",
        "start-up s",
        "list p50 ms",
        "list p99 ms",
        "?status=failed p50",
        "p99",
        "light user p50",
        "p99",
        "submit/s",
        "drain/s",
        "submit → start p50 ms",
    ]
    rows = [
        [
            f"{r['size']:,}",
            fmt(r["db_mib"]),
            fmt(r["insert_s"]),
            fmt(r["startup_s"], 2),
            fmt(r["list_heavy_p50"]),
            fmt(r["list_heavy_p99"]),
            fmt(r["list_heavy_failed_p50"]),
            fmt(r["list_heavy_failed_p99"]),
            fmt(r["list_light_p50"]),
            fmt(r["list_light_p99"]),
            fmt(r["submit_rate"]),
            fmt(r["drain_rate"]),
            fmt(r["start_p50"]),
        ]
        for r in results
    ]
    load = [round(x, 2) for x in os.getloadavg()]
    return "\n".join(
        [
            "## Growth: one-process product on SQLite with a pre-filled job table "
            f"(all jobs owned by one user; 3 events each); load average at the end {load}",
            "",
            markdown_table(header, rows),
        ]
    )


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    for size in args.sizes:
        result = await measure(size, args)
        print(
            f"[{size:,}] list p50 {fmt(result['list_heavy_p50'])} ms, drain "
            f"{fmt(result['drain_rate'])}/s",
            file=sys.stderr,
            flush=True,
        )
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from app.logging import configure_logging

    configure_logging("warning")
    import uvloop

    results = uvloop.run(run(args))
    print(render(results))
    if not args.no_save:
        RESULTS_DIR.mkdir(exist_ok=True)
        path = RESULTS_DIR / f"growth-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in results))
        print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
