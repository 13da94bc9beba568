"""A real ``atspro`` process for reliability tests: started, signalled, killed, restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port

ATSPRO = str(Path(sys.executable).with_name("atspro"))


class AppProcess:
    def __init__(self, data_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "ATSPRO_DATA_DIR": str(data_dir),
            "PORT": str(self.port),
            "ATSPRO_ENV": "development",
            "ATSPRO_LEASE_S": "2",
            "ATSPRO_REAPER_INTERVAL_S": "0.5",
            "ATSPRO_RECONCILE_INTERVAL_S": "1",
            "ATSPRO_PROGRESS_EVENT_INTERVAL_S": "0",
            "ATSPRO_LOG_LEVEL": "warning",
            **env,
        }
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.start_command = ["serve"]
        self.log = data_dir.parent / f"serve-{self.port}.log"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``atspro ARGS`` against this app's data, whatever its exit code."""
        return subprocess.run(
            [ATSPRO, *args], env=self.env, capture_output=True, text=True, check=False, timeout=60
        )

    def cli(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def create_user(self, email: str) -> str:
        """The API token `atspro user create` prints alone on its last line."""
        return self.cli("user", "create", email).strip().splitlines()[-1]

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [ATSPRO, *self.start_command], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"atspro serve did not become ready:\n{self.log.read_text()}")

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait(self, timeout: float = 30) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@contextmanager
def app_process(data_dir: Path, **env: str) -> Iterator[AppProcess]:
    app = AppProcess(data_dir, **env)
    try:
        yield app
    finally:
        app.stop()


class Api:
    """A blocking client for one user of a running app process."""

    def __init__(self, app: AppProcess, token: str) -> None:
        self.app = app
        self.headers = {"Authorization": f"Bearer {token}"}

    def submit(self, **input_data: Any) -> dict[str, Any]:
        response = httpx.post(
            f"{self.app.base_url}/api/jobs",
            json={"jobType": "diagnostic.echo", "inputData": input_data},
            headers=self.headers,
            timeout=10,
        )
        assert response.status_code == 202, response.text
        return dict(response.json())

    def job(self, job_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.app.base_url}/api/jobs/{job_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_for(self, job_id: str, statuses: set[str], timeout: float = 60) -> dict[str, Any]:
        return self.wait_until(job_id, lambda job: job["status"] in statuses, timeout)

    def wait_until(
        self, job_id: str, done: Callable[[dict[str, Any]], bool], timeout: float = 60
    ) -> dict[str, Any]:
        """The job once ``done(job)`` holds, or as it is when ``timeout`` runs out."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if done(job) or time.monotonic() > deadline:
                return job
            time.sleep(0.05)
