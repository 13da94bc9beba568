"""A scaled-out fleet of real processes: 2 `serve --mode web` + 2 `atspro worker` on PostgreSQL app
tables, with the queue on Redis or on PostgreSQL and Redis for events and locks."""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import httpx
import pytest
import redis

from tests.conftest import REDIS_URL, read_sse
from tests.reliability.process import AppProcess

REDIS_DB = 13
JOBS = 500
USERS = 4
CONCURRENCY = 4
NO_POLLING_S = "60"  # streams would poll this rarely: what they see sooner came over Redis


@pytest.fixture
def database(postgres_database: str) -> str:
    """The fresh database's plain URL: asyncpg and SAQ's Postgres queue take it as it is."""
    return postgres_database.replace("postgresql+asyncpg://", "postgresql://")


class Fleet:
    """Web and worker processes sharing one configuration."""

    def __init__(self, root: Path, stack: ExitStack, **env: str) -> None:
        self.root = root
        self.stack = stack
        self.env = env
        self.webs: list[AppProcess] = []
        self.workers: list[AppProcess] = []

    def process(self, *command: str) -> AppProcess:
        app = AppProcess(self.root / f"p{len(self.webs) + len(self.workers)}", **self.env)
        app.start_command = list(command)
        self.stack.callback(app.stop)
        return app

    async def start(self, webs: int, workers: int) -> None:
        self.webs += [self.process("serve", "--mode", "web") for _ in range(webs)]
        for _ in range(workers):
            worker = self.process("worker", "--concurrency", str(CONCURRENCY))
            worker.start_command += ["--port", str(worker.port)]
            self.workers.append(worker)
        async with anyio.create_task_group() as starting:
            for app in self.webs + self.workers:
                starting.start_soon(anyio.to_thread.run_sync, app.start)

    def client(self, web: int, token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.webs[web].base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )


@pytest.fixture
def fleet(tmp_path: Path, database: str, request: pytest.FixtureRequest) -> Iterator[Fleet]:
    """Processes on the fresh database (migrated), the queue named by the test's ``queue`` param."""
    redis_url = REDIS_URL.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()
    queue_url = redis_url if request.param == "redis" else database
    env = {
        "DATABASE_URL": database,
        "ATSPRO_QUEUE_URL": queue_url,
        "REDIS_URL": redis_url,
        "ATSPRO_SECRET_KEY": secrets.token_urlsafe(48),
        "ATSPRO_SSE_POLL_S": NO_POLLING_S,
        "ATSPRO_RATE_LIMIT_SUBMIT": "off",  # each user submits a burst of 125 jobs
    }
    with ExitStack() as stack:
        fleet = Fleet(tmp_path, stack, **env)
        fleet.process("migrate").cli("migrate")
        yield fleet


async def submit(client: httpx.AsyncClient, **input_data: Any) -> str:
    response = await client.post(
        "/api/jobs", json={"jobType": "diagnostic.echo", "inputData": input_data}
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def rows(database: str, query: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(database)
    try:
        return list(await connection.fetch(query))
    finally:
        await connection.close()


async def wait_all_terminal(database: str, count: int, within_s: float) -> None:
    with anyio.fail_after(within_s):
        while True:
            [row] = await rows(
                database,
                "SELECT count(*) AS n FROM background_jobs "
                "WHERE status IN ('completed', 'failed', 'cancelled')",
            )
            if row["n"] == count:
                return
            await anyio.sleep(0.2)


@pytest.mark.parametrize("fleet", ["redis", "postgres"], indirect=True)
async def test_jobs_through_two_web_processes_run_once_on_two_workers(
    fleet: Fleet, database: str
) -> None:
    """500 jobs from several users through both web processes all complete, each exactly once,
    shared by both workers; an SSE client on web process A sees the progress of a job submitted
    through web process B and run by a worker process."""
    await fleet.start(webs=2, workers=2)
    tokens = [fleet.webs[0].create_user(f"fleet-{n}@example.com") for n in range(USERS)]
    clients = [fleet.client(n % 2, token) for n, token in enumerate(tokens)]
    watcher = fleet.client(0, tokens[0])
    submitter = fleet.client(1, tokens[0])
    try:
        watched = await submit(submitter, seconds=3, steps=6, echo="watched")
        seen: list[str] = []
        subscribed = anyio.Event()
        async with anyio.create_task_group() as tasks:

            async def watch() -> None:
                async with watcher.stream(
                    "GET", "/api/jobs/events", params={"job_id": watched}
                ) as stream:
                    async for message in read_sse(stream):
                        seen.append(message["data"]["eventType"])
                        subscribed.set()

            tasks.start_soon(watch)
            with anyio.fail_after(30):
                await subscribed.wait()  # the snapshot: the stream is live before the flood
            limiter = anyio.CapacityLimiter(16)

            async def one(n: int) -> None:
                async with limiter:
                    await submit(clients[n % USERS], echo=str(n), seconds=0, steps=1)

            for n in range(JOBS - 1):
                tasks.start_soon(one, n)
        await wait_all_terminal(database, JOBS, within_s=90)
    finally:
        for client in [*clients, watcher, submitter]:
            await client.aclose()

    assert seen[-1] == "completed"
    assert "progress" in seen
    jobs = await rows(database, "SELECT status, attempt, worker_id FROM background_jobs")
    assert {(job["status"], job["attempt"]) for job in jobs} == {("completed", 1)}
    assert len({job["worker_id"].rsplit("/", 1)[0] for job in jobs}) == 2  # both worker processes
    completions = await rows(
        database,
        "SELECT job_id, count(*) AS n FROM job_events WHERE type = 'completed' GROUP BY job_id",
    )
    assert len(completions) == JOBS
    assert {row["n"] for row in completions} == {1}


@pytest.mark.parametrize("fleet", ["redis", "postgres"], indirect=True)
async def test_a_killed_worker_processes_jobs_are_finished_by_the_other(
    fleet: Fleet, database: str
) -> None:
    """R1: SIGKILL one worker process mid-job: the other takes its jobs over once their lease
    runs out (the recovery lock passing to it if needed); none is lost and none completes twice."""
    await fleet.start(webs=1, workers=2)
    token = fleet.webs[0].create_user("kill@example.com")
    async with fleet.client(0, token) as client:
        jobs = [await submit(client, seconds=3, steps=6, echo=str(n)) for n in range(12)]
        victim = fleet.workers[0]
        assert victim.process is not None
        pid = f"/{victim.process.pid}/"
        # All its slots busy with started jobs: none is between a claim and its start.
        running = (
            f"SELECT id FROM background_jobs WHERE status = 'running' AND worker_id LIKE '%{pid}%'"
        )
        with anyio.fail_after(30):
            while len(await rows(database, running)) < CONCURRENCY:
                await anyio.sleep(0.05)
        os.kill(victim.process.pid, signal.SIGKILL)
        victim.wait()
        await wait_all_terminal(database, len(jobs), within_s=60)

    found = await rows(
        database, "SELECT status, attempt, stall_count, worker_id FROM background_jobs"
    )
    assert {job["status"] for job in found} == {"completed"}
    taken_over = [job for job in found if job["stall_count"] == 1]
    assert taken_over  # the victim's running jobs
    for job in taken_over:
        assert job["attempt"] == 2
        assert pid not in job["worker_id"]
    completions = await rows(
        database,
        "SELECT job_id, count(*) AS n FROM job_events WHERE type = 'completed' GROUP BY job_id",
    )
    assert len(completions) == len(jobs)
    assert {row["n"] for row in completions} == {1}
