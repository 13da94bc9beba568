"""What every scenario shares: the run's knobs, one round's raw measurements, Redis hygiene."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.stats import percentile

REDIS_BASE_URL = "redis://127.0.0.1:6379"
CONCURRENCY = 10  # per queue, raw SAQ and the product alike
POLL_S = 0.02  # how often the driver checks for completion (does not affect the metrics)


@dataclass(frozen=True)
class Workload:
    jobs: int  # burst: submitted back to back, as fast as one producer can
    paced_jobs: int  # paced: submitted at ``paced_rate`` per second, for latency without backlog
    paced_rate: float
    timeout_s: float  # per phase


@dataclass
class RoundResult:
    """Raw measurements of one scenario in one round. Times are wall-clock epoch seconds."""

    scenario: str
    round: int
    warmup: bool
    jobs: int
    submit_started: float = 0.0
    submit_ended: float = 0.0
    completed: list[float] = field(default_factory=list)  # per job, when its task ended
    start_ms: list[float] = field(default_factory=list)  # burst: submit → started, per job
    paced_start_ms: list[float] = field(default_factory=list)
    sse_ms: list[float] = field(default_factory=list)  # burst: change → SSE client, per event
    paced_sse_ms: list[float] = field(default_factory=list)
    paced_submit_s: float = 0.0  # first paced submit → last paced submit returned
    sse_events: int | None = None  # events the SSE client received (None: no SSE)
    sse_expected: int | None = None
    setup_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def metrics(self) -> dict[str, float | None]:
        """The reported numbers of this round."""
        submit_s = self.submit_ended - self.submit_started
        last = max(self.completed) if self.completed else None
        out: dict[str, float | None] = {
            "submit_rate": self.jobs / submit_s if submit_s > 0 else None,
            "drain_rate": None,
            "tail_rate": None,
            "backlog_at_submit_end": None,
        }
        if last is not None and len(self.completed) == self.jobs:
            out["drain_rate"] = self.jobs / (last - self.submit_started)
            tail = [t for t in self.completed if t > self.submit_ended]
            out["backlog_at_submit_end"] = float(len(tail))
            window = last - self.submit_ended
            # Meaningless when (nearly) everything finished while jobs were still being submitted.
            if len(tail) >= max(10, self.jobs // 100) and window > 0.01:
                out["tail_rate"] = len(tail) / window
        paced_n = len(self.paced_start_ms)
        out["paced_rate"] = paced_n / self.paced_submit_s if self.paced_submit_s > 0 else None
        for name, values in (
            ("start", self.start_ms),
            ("paced_start", self.paced_start_ms),
        ):
            for pct in (50, 95, 99):
                out[f"{name}_p{pct}"] = percentile(values, pct)
        for name, values in (("sse", self.sse_ms), ("paced_sse", self.paced_sse_ms)):
            for pct in (50, 99):
                out[f"{name}_p{pct}"] = percentile(values, pct)
        return out

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        # Keep the file small: per-job lists become their summary.
        for key in ("completed", "start_ms", "paced_start_ms", "sse_ms", "paced_sse_ms"):
            data[key] = len(data[key])
        data["metrics"] = self.metrics()
        return data


async def wait_until(
    check: Callable[[], Awaitable[bool]], timeout_s: float, what: str, interval_s: float = POLL_S
) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        await asyncio.sleep(interval_s)


async def paced(count: int, rate: float, submit: Callable[[int], Awaitable[None]]) -> float:
    """Call ``submit(i)`` ``count`` times at ``rate`` per second (on schedule, not after sleeps);
    return the seconds it took (a producer slower than ``rate`` shows as a lower achieved rate)."""
    loop = asyncio.get_running_loop()
    begin = loop.time()
    for i in range(count):
        delay = begin + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await submit(i)
    return loop.time() - begin


# --- Redis hygiene -------------------------------------------------------------------------------


async def pick_redis_db(candidates: Sequence[int] = range(15, 0, -1)) -> int:
    """An empty Redis database for this run, so cleaning up can never touch anyone else's keys."""
    from redis.asyncio import Redis

    for db in candidates:
        client = Redis.from_url(f"{REDIS_BASE_URL}/{db}")
        try:
            if await client.dbsize() == 0:
                return db
        finally:
            await client.aclose()
    raise RuntimeError("no empty Redis database among 1-15 for the benchmark")


async def delete_saq_keys(
    db: int, queue_names: Sequence[str], extra_patterns: Sequence[str] = ()
) -> int:
    """Delete the keys SAQ's RedisQueue made for ``queue_names`` in database ``db`` (and those
    matching ``extra_patterns``)."""
    from redis.asyncio import Redis

    client = Redis.from_url(f"{REDIS_BASE_URL}/{db}")
    deleted = 0
    patterns = [p for name in queue_names for p in (f"saq:{name}:*", f"saq:job:{name}:*")]
    try:
        for pattern in [*patterns, *extra_patterns]:
            batch: list[bytes] = []
            async for key in client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 500:
                    deleted += await client.delete(*batch)
                    batch = []
            if batch:
                deleted += await client.delete(*batch)
    finally:
        await client.aclose()
    return deleted
