"""``python -m bench.load``: many users submitting over HTTP while many SSE clients watch.

For each mode, the product runs as real processes: ``one-process`` is ``atspro serve`` with its
defaults (SQLite app tables and queue, workers in the process); ``split`` is ``atspro serve --mode
web`` + 2 ``atspro worker`` on a fresh PostgreSQL database and Redis (queue, events). Then:

1. ``--users`` users are created (default 1,000) and ``--watchers`` SSE clients (default 1,000, in
   a child process, ``bench.watchers``) connect to ``GET /api/jobs/events``, spread evenly over
   the users (so by default every user has one tab open; fewer users = more tabs per user);
   the web process's resident memory before and after gives **RSS per 1,000 SSE clients**;
2. submitters send ``POST /api/jobs`` (``diagnostic.echo``) open-loop at a steady rate, round-robin
   over the users, for ``--step-s`` seconds per step, ramping through ``--rates`` until the p99
   submit latency exceeds ``--max-p99-ms`` or a request fails: **where it breaks**.

Per step: achieved submit rate, **sustained jobs/s** (completions during the step), submit
latency p50/p99, errors, and **event delivery latency** p50/p99 (SSE arrival - ``job.updatedAt``,
over every copy every client received). The driver, the watchers and the servers share the
machine, so the figures are a floor for a dedicated server, not a ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.common import REDIS_BASE_URL
from bench.fleet import (
    Process,
    base_env,
    create_database,
    drop_database,
    flush_redis,
    rss_bytes,
)
from bench.product import JOB_TYPE
from bench.stats import fmt, markdown_table, percentile
from bench.watchers import raise_fd_limit

MODES = ("one-process", "split")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
MIB = 1024 * 1024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__.split("\n")[0]
    )
    env = os.environ.get
    parser.add_argument("--modes", default=env("BENCH_LOAD_MODES", ",".join(MODES)))
    parser.add_argument("--watchers", type=int, default=int(env("BENCH_WATCHERS", "1000")))
    parser.add_argument("--users", type=int, default=int(env("BENCH_USERS", "1000")))
    parser.add_argument(
        "--rates",
        default=env("BENCH_RATES", "10,25,50,100,200,400"),
        help="submissions per second, one step each, in order",
    )
    parser.add_argument("--step-s", type=float, default=float(env("BENCH_STEP_S", "10")))
    parser.add_argument("--job-seconds", type=float, default=0.0, help="each job sleeps this long")
    parser.add_argument("--max-p99-ms", type=float, default=1000.0, help="the breaking point")
    parser.add_argument("--redis-db", type=int, default=int(env("BENCH_REDIS_DB", "6")))
    parser.add_argument("--quick", action="store_true", help="tiny: 20 watchers, one short step")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.watchers, args.users, args.rates, args.step_s = 20, 4, "10", 2.0
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if set(args.modes) - set(MODES):
        parser.error(f"modes are {MODES}")
    args.rates = [float(r) for r in args.rates.split(",")]
    return args


@dataclass
class Step:
    rate: float
    started: float = 0.0  # epoch seconds
    ended: float = 0.0
    submit_ms: list[float] = field(default_factory=list)
    errors: int = 0
    completed: int = 0
    backlog: int = 0

    def row(self, event_ms: list[float]) -> dict[str, Any]:
        window = self.ended - self.started
        return {
            "rate": self.rate,
            "submitted": len(self.submit_ms),
            "submit_rate": len(self.submit_ms) / window if window > 0 else None,
            "sustained_rate": self.completed / window if window > 0 else None,
            "submit_p50": percentile(self.submit_ms, 50),
            "submit_p99": percentile(self.submit_ms, 99),
            "errors": self.errors,
            "event_p50": percentile(event_ms, 50),
            "event_p99": percentile(event_ms, 99),
            "events": len(event_ms),
            "backlog": self.backlog,
        }


class Setup:
    """The processes of one mode and how to count its finished jobs."""

    def __init__(self, mode: str, root: Path, redis_db: int, job_seconds: float) -> None:
        self.mode = mode
        self.root = root
        self.redis_url = f"{REDIS_BASE_URL}/{redis_db}"
        self.job_seconds = job_seconds
        self.processes: list[Process] = []
        self.db_name: str | None = None
        self.db_url: str | None = None
        self.settings_kwargs: dict[str, Any] = {"data_dir": root / "data"}

    async def start(self) -> None:
        extra: dict[str, str] = {}
        if self.mode == "split":
            await flush_redis(self.redis_url)
            self.db_name, self.db_url = await create_database()
            extra = {
                "DATABASE_URL": self.db_url,
                "ATSPRO_QUEUE_URL": self.redis_url,
                "REDIS_URL": self.redis_url,
            }
            self.settings_kwargs.update(
                database_url=self.db_url,
                queue_url=self.redis_url,
                redis_url=self.redis_url,
                auto_migrate=True,
            )
        self.env = base_env(self.root / "data", **extra)
        if self.mode == "split":
            self.processes = [Process(["serve", "--mode", "web"], self.env, self.root / "web.log")]
            self.processes += [
                Process(["worker"], self.env, self.root / f"worker{n}.log") for n in range(2)
            ]
        else:
            self.processes = [Process(["serve"], self.env, self.root / "serve.log")]

    async def create_users(self, count: int) -> list[str]:
        """Users and their API tokens, written straight through the service (as the CLI does)."""
        from app.lifespan import build
        from app.settings import Mode, Settings

        settings = Settings(mode=Mode.WEB, **self.settings_kwargs)
        tokens = []
        async with build(settings) as container:
            for n in range(count):
                _user, token = await container.auth.create_user(f"load-{n}@example.com")
                tokens.append(token)
        return tokens

    async def serve(self) -> None:
        await asyncio.gather(*(process.start() for process in self.processes))

    @property
    def web(self) -> Process:
        return self.processes[0]

    async def completed(self) -> int:
        query = "SELECT count(*) FROM background_jobs WHERE status = 'completed'"
        if self.db_url is not None:
            import asyncpg

            connection = await asyncpg.connect(self.db_url)
            try:
                return int(await connection.fetchval(query))
            finally:
                await connection.close()

        def count() -> int:
            path = self.settings_kwargs["data_dir"] / "atspro.db"
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as connection:
                return int(connection.execute(query).fetchone()[0])

        return await asyncio.to_thread(count)

    async def stop(self) -> None:
        await asyncio.gather(*(process.stop() for process in self.processes))
        if self.db_name is not None:
            await drop_database(self.db_name)
            await flush_redis(self.redis_url)


async def _run_step(
    client: httpx.AsyncClient, tokens: list[str], step: Step, duration_s: float, job: dict[str, Any]
) -> None:
    loop = asyncio.get_running_loop()
    count = max(1, int(step.rate * duration_s))

    async def one(index: int) -> None:
        began = time.perf_counter()
        try:
            response = await client.post(
                "/api/jobs",
                json={"jobType": JOB_TYPE, "inputData": job, "priority": 5},
                headers={"Authorization": f"Bearer {tokens[index % len(tokens)]}"},
            )
            ok = response.status_code == 202
        except httpx.HTTPError:
            ok = False
        step.submit_ms.append((time.perf_counter() - began) * 1000)
        step.errors += not ok

    tasks = []
    begin = loop.time()
    step.started = time.time()
    for index in range(count):
        delay = begin + index / step.rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index)))
    await asyncio.gather(*tasks)
    step.ended = time.time()


async def run_mode(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-load-{mode}-") as tmp:
        root = Path(tmp)
        setup = Setup(mode, root, args.redis_db, args.job_seconds)
        watchers: asyncio.subprocess.Process | None = None
        report: dict[str, Any] = {"mode": mode, "watchers": args.watchers, "users": args.users}
        try:
            await setup.start()
            tokens = await setup.create_users(args.users)
            await setup.serve()
            (root / "tokens.json").write_text(json.dumps(tokens))
            await asyncio.sleep(1)
            rss_before = rss_bytes(setup.web.pid)
            watchers = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.watchers",
                setup.web.base_url,
                str(root / "tokens.json"),
                str(args.watchers),
                str(root / "events.json"),
                stdout=asyncio.subprocess.PIPE,
            )
            assert watchers.stdout is not None
            line = (await asyncio.wait_for(watchers.stdout.readline(), 120)).decode().split()
            if not line or line[0] != "connected":
                raise RuntimeError(f"watchers did not connect: {line}")
            report["connected"], report["connect_failed"] = int(line[1]), int(line[2])
            await asyncio.sleep(2)  # past every stream's snapshot query
            rss_after = rss_bytes(setup.web.pid)
            report["rss_before_mib"] = rss_before / MIB
            report["rss_after_mib"] = rss_after / MIB
            report["rss_per_1000_mib"] = (
                (rss_after - rss_before) / MIB * 1000 / max(1, report["connected"])
            )
            steps = await _ramp(setup, tokens, args)
            report["steps"] = steps
        finally:
            if watchers is not None and watchers.returncode is None:
                watchers.send_signal(signal.SIGINT)
                await asyncio.wait_for(watchers.wait(), 60)
            report["rss_end_mib"] = _safe_rss(setup) / MIB
            await setup.stop()
        events = json.loads((root / "events.json").read_text())
    report["dropped_streams"] = events["dropped"]
    pairs = list(zip(events["received"], events["latency_ms"], strict=True))
    for step in report["steps"]:
        step_obj: Step = step.pop("_step")
        late = step_obj.ended + 1.0  # copies still in flight when the step ended
        in_step = [ms for at, ms in pairs if step_obj.started <= at < late]
        step.update(step_obj.row(in_step))
    report["breaks_at"] = next((s["rate"] for s in report["steps"] if s.get("broke")), None)
    return report


def _safe_rss(setup: Setup) -> float:
    try:
        return float(rss_bytes(setup.web.pid))
    except (OSError, RuntimeError, AssertionError):
        return 0.0


async def _ramp(setup: Setup, tokens: list[str], args: argparse.Namespace) -> list[dict[str, Any]]:
    job = {"seconds": args.job_seconds} if args.job_seconds else {}
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    steps: list[dict[str, Any]] = []
    submitted_total = 0
    async with httpx.AsyncClient(base_url=setup.web.base_url, timeout=30, limits=limits) as client:
        for rate in args.rates:
            step = Step(rate)
            before = await setup.completed()
            await _run_step(client, tokens, step, args.step_s, job)
            after = await setup.completed()
            submitted_total += len(step.submit_ms) - step.errors
            step.completed = after - before
            step.backlog = submitted_total - after
            p99 = percentile(step.submit_ms, 99) or 0.0
            broke = p99 > args.max_p99_ms or step.errors > 0
            steps.append({"_step": step, "broke": broke})
            print(
                f"[{setup.mode}] {rate:g}/s: p99 submit {p99:.0f} ms, errors {step.errors}, "
                f"done {step.completed / args.step_s:.0f}/s, backlog {step.backlog}",
                file=sys.stderr,
                flush=True,
            )
            if broke:
                break
    return steps


def render(reports: list[dict[str, Any]], args: argparse.Namespace) -> str:
    load = [round(x, 2) for x in os.getloadavg()]
    lines = [
        f"## Load: {args.watchers} SSE clients over {args.users} users, HTTP submitters "
        f"ramped {', '.join(f'{r:g}' for r in args.rates)} jobs/s, {args.step_s:g} s per step; "
        f"load average at the end {load}",
        "",
    ]
    for report in reports:
        lines += [
            f"### {report['mode']}: {report['connected']} streams connected "
            f"({report['connect_failed']} failed, {report['dropped_streams']} dropped); web RSS "
            f"{report['rss_before_mib']:.0f} → {report['rss_after_mib']:.0f} MiB, "
            f"**{report['rss_per_1000_mib']:.1f} MiB per 1,000 SSE clients**; "
            + (
                f"breaks at **{report['breaks_at']:g}/s**"
                if report["breaks_at"] is not None
                else "did not break within the ramp"
            ),
            "",
        ]
        header = [
            "offered/s",
            "submitted/s",
            "done/s",
            "submit p50 ms",
            "submit p99 ms",
            "errors",
            "event p50 ms",
            "event p99 ms",
            "events",
            "backlog",
        ]
        rows = [
            [
                fmt(s["rate"]),
                fmt(s["submit_rate"]),
                fmt(s["sustained_rate"]),
                fmt(s["submit_p50"]),
                fmt(s["submit_p99"]),
                s["errors"],
                fmt(s["event_p50"]),
                fmt(s["event_p99"]),
                s["events"],
                s["backlog"],
            ]
            for s in report["steps"]
        ]
        lines += [markdown_table(header, rows), ""]
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    raise_fd_limit(args.watchers * 2 + 1024)  # the servers inherit it
    return [await run_mode(mode, args) for mode in args.modes]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import uvloop

    reports = uvloop.run(run(args))
    print(render(reports, args))
    if not args.no_save:
        RESULTS_DIR.mkdir(exist_ok=True)
        path = RESULTS_DIR / f"load-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.jsonl"
        with path.open("w") as out:
            for report in reports:
                report["loadavg"] = os.getloadavg()
                out.write(json.dumps(report) + "\n")
        print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
