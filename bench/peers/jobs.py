"""Job functions of the peer systems, and where they record when they ran.

In-process workers (SAQ, arq) record into a :class:`Timings` object; RQ's worker runs in its own
process, so its jobs append one line per job to the file named by ``BENCH_RECORD`` (one
``O_APPEND`` write: atomic, microseconds, no round trip to the server under test).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

SLEEP_S = 0.1  # the I/O-bound job: what an LLM or HTTP call looks like to the worker
RECORD_ENV = "BENCH_RECORD"


class Timings:
    """When each job started and ended (epoch seconds), by job key."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.ended: dict[str, float] = {}

    def clear(self) -> None:
        self.started.clear()
        self.ended.clear()

    def spans(self) -> dict[str, tuple[float, float]]:
        return {key: (self.started[key], end) for key, end in self.ended.items()}


def read_record(path: Path) -> dict[str, tuple[float, float]]:
    """The spans an out-of-process worker appended to ``path``."""
    if not path.exists():
        return {}
    spans: dict[str, tuple[float, float]] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            spans[parts[0]] = (float(parts[1]), float(parts[2]))
    return spans


def _append(key: str, started: float) -> None:
    line = f"{key} {started:.6f} {time.time():.6f}\n".encode()
    fd = os.open(os.environ[RECORD_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def rq_noop() -> None:
    from rq import get_current_job

    started = time.time()
    job = get_current_job()
    assert job is not None
    _append(job.id, started)


def rq_sleep() -> None:
    from rq import get_current_job

    started = time.time()
    time.sleep(SLEEP_S)
    job = get_current_job()
    assert job is not None
    _append(job.id, started)


async def pause() -> None:
    await asyncio.sleep(SLEEP_S)
