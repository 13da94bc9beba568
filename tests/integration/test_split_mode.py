"""Split mode on one host: `atspro serve --mode web` and `atspro worker` processes over Redis."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import redis

from tests.conftest import REDIS_URL, free_port
from tests.reliability.process import ATSPRO, Api, AppProcess

SPLIT_REDIS_DB = 9


def test_web_and_worker_processes_share_the_work(tmp_path: Path) -> None:
    """A job submitted to the web process is run by a separate worker process, and the web
    process's SSE stream sees it complete."""
    queue_url = REDIS_URL.rsplit("/", 1)[0] + f"/{SPLIT_REDIS_DB}"
    redis.Redis.from_url(queue_url).flushdb()
    web = AppProcess(
        tmp_path / "data", ATSPRO_QUEUE_URL=queue_url, REDIS_URL=queue_url, ATSPRO_SSE_POLL_S="0.5"
    )
    worker_port = free_port()
    worker_log = (tmp_path / "worker.log").open("wb")
    worker = None
    try:
        web.start_command = ["serve", "--mode", "web"]
        web.start()
        assert "worker:default" not in httpx.get(f"{web.base_url}/readyz").json()["checks"]
        api = Api(web, web.create_user("split@example.com"))
        job = api.submit(seconds=0.3, steps=3, echo="split")
        time.sleep(0.5)
        assert api.job(job["id"])["status"] == "pending"  # no worker yet

        worker = subprocess.Popen(
            [ATSPRO, "worker", "--port", str(worker_port), "--concurrency", "2"],
            env=web.env,
            stdout=worker_log,
            stderr=subprocess.STDOUT,
        )
        with httpx.stream(
            "GET",
            f"{web.base_url}/api/jobs/events",
            params={"job_id": job["id"]},
            headers=api.headers,
            timeout=30,
        ) as stream:
            lines = [line for line in stream.iter_lines() if line.startswith("data:")]
        assert '"eventType":"completed"' in lines[-1]
        done = api.job(job["id"])
        assert done["status"] == "completed"
        assert done["resultData"]["echo"] == "split"
        health = httpx.get(f"http://127.0.0.1:{worker_port}/healthz", timeout=5)
        assert health.json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{worker_port}/api/jobs").status_code == 404
    finally:
        if worker is not None:
            worker.terminate()
            assert worker.wait(timeout=30) == 0
        web.stop()
        worker_log.close()
