"""D4: clock skew between hosts of a split deployment. A worker whose wall clock runs 60 s
behind (libfaketime) runs a healthy job while a worker with the right time leads recovery.
Leases should be judged on one clock (the database's), so the job must run once."""

from __future__ import annotations

import secrets
import shutil
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.reliability.process import Api, AppProcess
from tests.reliability.redis_server import RedisServer

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
TERMINAL = {"completed", "failed", "cancelled"}

pytestmark = pytest.mark.skipif(
    not LIBFAKETIME.exists(), reason="libfaketime is not installed (apt-get install faketime)"
)


async def test_a_worker_with_a_slow_clock_keeps_its_healthy_job(
    tmp_path: Path, redis_server: RedisServer, postgres_database: str
) -> None:
    """D4: web process and recovery leader on the right time, the worker running the job 60 s
    behind: the 4 s job completes on its first attempt and is never reaped. (It is reaped at
    once, attempt 2, when leases are judged on each host's own clock: app/jobs/clock.py.)"""
    assert shutil.which("redis-server")
    env = {
        "DATABASE_URL": postgres_database,
        "ATSPRO_QUEUE_URL": redis_server.url,
        "REDIS_URL": redis_server.url,
        "ATSPRO_SECRET_KEY": secrets.token_urlsafe(48),
    }
    with ExitStack() as stack:

        def process(name: str, *command: str, **extra: str) -> AppProcess:
            app = AppProcess(tmp_path / name, **env, **extra)
            app.start_command = list(command)
            stack.callback(app.stop)
            return app

        process("migrate").cli("migrate")
        web = process("web", "serve", "--mode", "web")
        leader = process("leader", "worker", "--queues", "low")  # first: takes the recovery lock
        leader.start_command += ["--port", str(leader.port)]
        skewed = process(
            "skewed",
            "worker",
            "--queues",
            "high,default",
            LD_PRELOAD=str(LIBFAKETIME),
            FAKETIME="-60s",
            DONT_FAKE_MONOTONIC="1",  # timers and timeouts keep real time; only the date is off
        )
        skewed.start_command += ["--port", str(skewed.port)]
        for app in (web, leader):
            app.start()
        time.sleep(1)  # the leader's recovery loop holds the lock before the other starts
        skewed.start()

        api = Api(web, web.create_user("skew@example.com"))
        job = api.submit(seconds=4, steps=4, echo="skew")
        done = api.wait_until(
            job["id"], lambda job: job["status"] in TERMINAL or job["attempt"] > 1, timeout=60
        )
        assert done["attempt"] == 1, done
        done = api.wait_for(job["id"], TERMINAL, timeout=60)
        assert done["status"] == "completed", done
        assert done["attempt"] == 1
