"""Split mode as a ``python -m bench`` scenario: 1 web process + 2 worker processes.

Real subprocesses, as a scaled deployment runs them (``atspro migrate``, ``atspro serve --mode
web``, two ``atspro worker``): the queue and live events on Redis (the run's own database),
app tables in a fresh PostgreSQL database, dropped after the round. Each worker process runs the
``default`` queue at concurrency 10, so the fleet has 20 slots against the one-process rows' 10.

Jobs go through HTTP (``POST /api/jobs``; ``--submitters`` requests in flight during the burst,
one at a time in the paced phase), so unlike the in-process rows the submit rate includes HTTP,
authentication and JSON. Submit → start is ``started_at - created_at`` of each row (both stamped
by the processes, read from PostgreSQL); SSE is measured by ``bench.sse_client`` on the web
process, as for the other product rows.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    CONCURRENCY,
    REDIS_BASE_URL,
    RoundResult,
    Workload,
    delete_saq_keys,
    paced,
    wait_until,
)
from bench.fleet import (
    Process,
    base_env,
    create_database,
    create_user,
    drop_database,
    run_cli,
)
from bench.product import JOB_TYPE, PRODUCT_QUEUES, _SSEClient

SCENARIO = "atspro-split"
WORKERS = 2
SUBMITTERS = 10  # HTTP requests in flight during the burst


async def run_round(
    workload: Workload, *, redis_db: int, round_no: int, warmup: bool, with_sse: bool = True
) -> RoundResult:
    setup_began = time.perf_counter()
    result = RoundResult(SCENARIO, round_no, warmup, workload.jobs)
    redis_url = f"{REDIS_BASE_URL}/{redis_db}"
    db_name, db_url = await create_database()
    processes: list[Process] = []
    try:
        with tempfile.TemporaryDirectory(prefix="atspro-split-") as tmp:
            root = Path(tmp)
            env = base_env(
                root / "data",
                DATABASE_URL=db_url,
                ATSPRO_QUEUE_URL=redis_url,
                REDIS_URL=redis_url,
                ATSPRO_CONCURRENCY_DEFAULT=str(CONCURRENCY),
                ATSPRO_SHUTDOWN_GRACE_S="2",
            )
            await run_cli(env, "migrate")
            processes = [Process(["serve", "--mode", "web"], env, root / "web.log")]
            processes += [Process(["worker"], env, root / f"worker{n}.log") for n in range(WORKERS)]
            await asyncio.gather(*(process.start() for process in processes))
            token = await create_user(env, f"split-{round_no}@example.com")
            result.setup_s = time.perf_counter() - setup_began
            try:
                await _measure(
                    processes[0].base_url, token, db_url, root, workload, result, with_sse
                )
            except Exception:
                for process in processes:  # what the servers said, before the logs are gone
                    print(f"--- {process.log.name}:\n{process.tail()}", file=sys.stderr)
                raise
    finally:
        await asyncio.gather(*(process.stop() for process in processes))
        await drop_database(db_name)
        # Only our keys: the database was picked empty, but is not reserved for this run.
        result.extra["keys_deleted"] = await delete_saq_keys(
            redis_db, PRODUCT_QUEUES, extra_patterns=("atspro:*",)
        )
    return result


async def _measure(
    base_url: str,
    token: str,
    db_url: str,
    tmp: Path,
    workload: Workload,
    result: RoundResult,
    with_sse: bool,
) -> None:
    import asyncpg

    setup_began = time.perf_counter()
    sse: _SSEClient | None = None
    if with_sse:
        sse = _SSEClient(base_url, token, workload.jobs + workload.paced_jobs, tmp / "sse.json")
        await sse.start()
        await asyncio.sleep(0.3)  # past its initial snapshot query
    result.extra["sse_connect_s"] = time.perf_counter() - setup_began
    database = await asyncpg.connect(db_url)
    limits = httpx.Limits(max_connections=SUBMITTERS, max_keepalive_connections=SUBMITTERS)
    client = httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
        limits=limits,
    )
    try:

        async def submit() -> str:
            response = await client.post(
                "/api/jobs", json={"jobType": JOB_TYPE, "inputData": {}, "priority": 5}
            )
            if response.status_code != 202:
                raise RuntimeError(
                    f"submit answered {response.status_code} {dict(response.headers)}: "
                    f"{response.text[:500]}"
                )
            return str(response.json()["id"])

        async def completed() -> int:
            query = "SELECT count(*) FROM background_jobs WHERE status = 'completed'"
            return int(await database.fetchval(query))

        # Burst: SUBMITTERS requests in flight.
        burst_ids: list[str] = []
        remaining = iter(range(workload.jobs))

        async def submitter() -> None:
            for _ in remaining:
                burst_ids.append(await submit())

        result.submit_started = time.time()
        await asyncio.gather(*(submitter() for _ in range(SUBMITTERS)))
        result.submit_ended = time.time()

        async def drained() -> bool:
            return await completed() >= workload.jobs

        await wait_until(drained, workload.timeout_s, f"{workload.jobs} split-mode jobs")

        # Paced.
        paced_ids: list[str] = []

        async def paced_submit(_i: int) -> None:
            paced_ids.append(await submit())

        result.paced_submit_s = await paced(workload.paced_jobs, workload.paced_rate, paced_submit)

        async def paced_done() -> bool:
            return await completed() >= workload.jobs + workload.paced_jobs

        await wait_until(paced_done, workload.timeout_s, "paced split-mode jobs")
        rows = await database.fetch(
            "SELECT id::text AS id, created_at, started_at, completed_at FROM background_jobs"
        )
    finally:
        await client.aclose()
        await database.close()
    by_id: dict[str, Any] = {row["id"]: row for row in rows}

    def start_ms(job_id: str) -> float:
        row = by_id[job_id]
        return float((row["started_at"] - row["created_at"]).total_seconds() * 1000)

    result.completed = [by_id[i]["completed_at"].timestamp() for i in burst_ids]
    result.start_ms = [start_ms(i) for i in burst_ids]
    result.paced_start_ms = [start_ms(i) for i in paced_ids]
    if sse is not None:
        # Every job is completed by now: events still missing after a few seconds are lost.
        records = await sse.finish(timeout_s=5)
        burst, paced_set = set(burst_ids), set(paced_ids)
        result.sse_ms = [ms for job_id, _type, ms in records if job_id in burst]
        result.paced_sse_ms = [ms for job_id, _type, ms in records if job_id in paced_set]
        result.sse_events = len(records)
        result.sse_expected = 3 * (workload.jobs + workload.paced_jobs)
