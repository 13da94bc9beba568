"""``python -m bench.peers``: our queue and product next to raw SAQ, arq and RQ, same workloads.

Per system and repetition (a *cell*), with the backend flushed first:

1. **enqueue**: ``--jobs`` no-op jobs enqueued one at a time, each awaited, no worker running;
2. **drain c=10**: a worker with concurrency 10 drains them; first job start → last job end, so
   worker boot is excluded;
3. **drain c=100**: ``--sleep-jobs`` jobs that sleep 0.1 s, worker concurrency 100 (ideal for
   1,000 jobs: 1.0 s, i.e. 1,000 jobs/s);
4. **latency**: an idle worker at concurrency 10, 5 warm-up jobs, then ``--latency-jobs`` no-op
   jobs at ``--latency-rate`` per second; submit (just before the enqueue call) → job start.

Repetitions rotate the order of the systems, so load from the rest of the machine hits all of them
alike; a tiny warm-up repetition is discarded. Tables show the median over repetitions with the
ratio to raw SAQ on Redis; every cell is also a JSON line in ``bench/results/peers-<time>.jsonl``
with the 1-minute load average before and after it.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import paced, wait_until
from bench.fleet import create_database, drop_database
from bench.peers.systems import System, flush_redis, saq_postgres, saq_redis, saq_sqlite
from bench.stats import fmt, markdown_table, median, percentile, ratio

BASELINE = "saq-redis"
SYSTEMS = (
    "saq-redis",
    "saq-postgres",
    "arq",
    "rq",
    "sqlite-queue",
    "atspro-sqlite",
    "atspro-redis",
    "atspro-split",
)
RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"
WARMUP_JOBS = 5


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass(frozen=True)
class Sizes:
    jobs: int
    sleep_jobs: int
    latency_jobs: int
    latency_rate: float
    timeout_s: float


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.peers", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--jobs", type=int, default=_env_int("BENCH_JOBS", 1000))
    parser.add_argument("--sleep-jobs", type=int, default=_env_int("BENCH_SLEEP_JOBS", 1000))
    parser.add_argument("--latency-jobs", type=int, default=_env_int("BENCH_LATENCY_JOBS", 150))
    parser.add_argument("--latency-rate", type=float, default=30.0, help="jobs/s, paced")
    parser.add_argument("--reps", type=int, default=_env_int("BENCH_REPS", 2))
    parser.add_argument("--systems", default=os.environ.get("BENCH_SYSTEMS", ",".join(SYSTEMS)))
    parser.add_argument(
        "--redis-db",
        type=int,
        default=_env_int("BENCH_REDIS_DB", 6),
        help="a Redis database of the benchmark's own: it is FLUSHED before every cell",
    )
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per phase")
    parser.add_argument("--quick", action="store_true", help="tiny, one rep, no warm-up")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.jobs, args.sleep_jobs, args.latency_jobs, args.reps = 40, 40, 10, 1
        args.latency_rate = 50.0
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(args.systems) - set(SYSTEMS)
    if unknown:
        parser.error(f"unknown systems {sorted(unknown)}; choose from {SYSTEMS}")
    missing = [name for name in args.systems if name in PEER_LIBRARIES and not installed(name)]
    if missing:
        parser.error(
            f"{', '.join(missing)} not installed: `make bench-peers` (its own venv, as arq pins "
            "redis<6), or pip install -e '.[peers]', or leave them out with --systems"
        )
    return args


PEER_LIBRARIES = {"arq": "arq", "rq": "rq"}


def installed(system: str) -> bool:
    """Whether the peer library ``system`` needs is importable (the optional ``peers`` extra)."""
    return importlib.util.find_spec(PEER_LIBRARIES[system]) is not None


def make_system(name: str, args: argparse.Namespace, pg_url: str | None, tmp: Path) -> System:
    if name == "saq-redis":
        return saq_redis(args.redis_db)
    if name == "saq-postgres":
        assert pg_url is not None
        return saq_postgres(pg_url)
    if name == "sqlite-queue":
        return saq_sqlite(tmp)
    if name == "arq":
        from bench.peers.systems import ArqSystem

        return ArqSystem(args.redis_db)
    if name == "rq":
        from bench.peers.systems import RqSystem

        return RqSystem(args.redis_db)
    from bench.peers import product_system

    if name == "atspro-split":
        return product_system.SplitSystem(args.redis_db)
    if name == "atspro-sqlite":
        return product_system.product_sqlite()
    return product_system.product_redis(args.redis_db)


async def _wait_finished(system: System, count: int, timeout_s: float, what: str) -> None:
    async def done() -> bool:
        return await system.finished() >= count

    await wait_until(done, timeout_s, f"{system.name}: {what}", interval_s=0.02)


def _rate(spans: dict[str, tuple[float, float]], keys: list[str]) -> float | None:
    """Jobs per second from the first start to the last end among ``keys``."""
    chosen = [spans[key] for key in keys if key in spans]
    if len(chosen) < len(keys) or not chosen:
        return None
    window = max(end for _s, end in chosen) - min(start for start, _e in chosen)
    return len(chosen) / window if window > 0 else None


async def run_cell(system: System, sizes: Sizes) -> dict[str, Any]:
    """One system, the four phases; returns the cell's metrics."""
    load_before = os.getloadavg()[0]
    began = time.perf_counter()
    out: dict[str, Any] = {"system": system.name}
    await system.setup()
    try:
        total = 0
        # 1. enqueue, no worker.
        started = time.perf_counter()
        noop_keys = [await system.enqueue(sleep=False) for _ in range(sizes.jobs)]
        out["enqueue_rate"] = sizes.jobs / (time.perf_counter() - started)
        total += sizes.jobs

        # 2. drain at concurrency 10.
        await system.start_workers(min(10, system.max_concurrency or 10))
        await _wait_finished(system, total, sizes.timeout_s, "no-op drain")
        out["drain10_rate"] = _rate(await system.spans(), noop_keys)
        await system.stop_workers()

        # 3. sleep drain at concurrency 100.
        sleep_jobs = min(sizes.sleep_jobs, system.max_sleep_jobs or sizes.sleep_jobs)
        out["sleep_jobs"] = sleep_jobs
        sleep_keys = [await system.enqueue(sleep=True) for _ in range(sleep_jobs)]
        total += sleep_jobs
        await system.start_workers(min(100, system.max_concurrency or 100))
        await _wait_finished(system, total, sizes.timeout_s, "sleep drain")
        out["drain100_rate"] = _rate(await system.spans(), sleep_keys)
        await system.stop_workers()

        # 4. latency with an idle worker at concurrency 10, paced submissions.
        await system.start_workers(min(10, system.max_concurrency or 10))
        for _ in range(WARMUP_JOBS):
            await system.enqueue(sleep=False)
        total += WARMUP_JOBS
        await _wait_finished(system, total, sizes.timeout_s, "warm-up jobs")
        submitted: dict[str, float] = {}

        async def submit(_i: int) -> None:
            at = time.time()
            submitted[await system.enqueue(sleep=False)] = at

        paced_s = await paced(sizes.latency_jobs, sizes.latency_rate, submit)
        out["latency_rate"] = sizes.latency_jobs / paced_s if paced_s > 0 else None
        total += sizes.latency_jobs
        await _wait_finished(system, total, sizes.timeout_s, "paced jobs")
        spans = await system.spans()
        latencies = [(spans[key][0] - at) * 1000 for key, at in submitted.items()]
        for pct in (50, 95, 99):
            out[f"latency_p{pct}"] = percentile(latencies, pct)
        await system.stop_workers()
    finally:
        await system.teardown()
    out["cell_s"] = time.perf_counter() - began
    out["loadavg1_before"] = load_before
    out["loadavg1_after"] = os.getloadavg()[0]
    return out


async def run(args: argparse.Namespace, results: Path | None) -> dict[str, Any]:
    sizes = Sizes(args.jobs, args.sleep_jobs, args.latency_jobs, args.latency_rate, args.timeout)
    warm = Sizes(20, 20, 5, args.latency_rate, args.timeout)
    pg_name, pg_url = (None, None)
    if "saq-postgres" in args.systems:
        pg_name, pg_url = await create_database()
    cells: list[dict[str, Any]] = []
    began = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
            systems = {name: make_system(name, args, pg_url, Path(tmp)) for name in args.systems}
            names = list(args.systems)
            for rep in range(1 if args.quick else 0, args.reps + 1):
                shift = rep % len(names)
                for name in names[shift:] + names[:shift]:
                    cell = await run_cell(systems[name], warm if rep == 0 else sizes)
                    cell.update(rep=rep, warmup=rep == 0, kind="cell")
                    cells.append(cell)
                    _progress(cell)
                    if results is not None:
                        with results.open("a") as out:
                            out.write(json.dumps(cell) + "\n")
    finally:
        if pg_name is not None:
            await drop_database(pg_name)
        await flush_redis(args.redis_db)  # leave the database as empty as we found it
    measured = [c for c in cells if not c["warmup"]]
    summary = {}
    for name in args.systems:
        mine = [c for c in measured if c["system"] == name]
        keys = [k for k in mine[0] if k not in ("system", "rep", "warmup", "kind")]
        summary[name] = {key: median(c[key] for c in mine) for key in keys}
        summary[name]["notes"] = systems[name].notes
    return {
        "kind": "summary",
        "started_at": datetime.now(UTC).isoformat(),
        "wall_s": time.perf_counter() - began,
        "sizes": vars(sizes),
        "reps": args.reps,
        "loop": args.loop,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "loadavg": os.getloadavg(),
        },
        "summary": summary,
    }


def render(report: dict[str, Any]) -> str:
    summary = report["summary"]
    base = summary.get(BASELINE, {})
    sizes = report["sizes"]
    columns = [
        ("enqueue_rate", "enqueue/s", True),
        ("drain10_rate", "drain c=10 /s", True),
        ("drain100_rate", "0.1 s jobs c=100 /s", True),
        ("latency_p50", "p50 ms", False),
        ("latency_p95", "p95 ms", False),
        ("latency_p99", "p99 ms", False),
    ]
    header = ["system"]
    for _key, label, _higher in columns:
        header += [label, "x"]
    rows = []
    for name, values in summary.items():
        row = [name]
        for key, _label, higher in columns:
            row += [
                fmt(values.get(key)),
                ratio(values.get(key), base.get(key), higher_is_better=higher),
            ]
        rows.append(row)
    load = [round(x, 2) for x in report["machine"]["loadavg"]]
    lines = [
        f"## Peers: {sizes['jobs']} no-op jobs, {sizes['sleep_jobs']} jobs of 0.1 s, "
        f"{sizes['latency_jobs']} paced at {sizes['latency_rate']:g}/s; median of "
        f"{report['reps']} rep(s); loop {report['loop']}; load average at the end {load}",
        "",
        f"x = ratio to {BASELINE}: ours/theirs for rates, theirs/ours for latencies, so "
        "**> 1 is better than raw SAQ on Redis**. Latency = submit → job start, idle worker.",
        "",
        markdown_table(header, rows),
        "",
    ]
    capped = [
        f"{n} ({int(v['sleep_jobs'])} jobs)"
        for n, v in summary.items()
        if v.get("sleep_jobs") and v["sleep_jobs"] < sizes["sleep_jobs"]
    ]
    if capped:
        lines.append(f"Sleep drain capped (one job at a time): {', '.join(capped)}.")
    lines += [f"- **{name}**: {values['notes']}" for name, values in summary.items()]
    lines.append(f"\nWall time {report['wall_s']:.0f} s.")
    return "\n".join(lines)


def _progress(cell: dict[str, Any]) -> None:
    tag = "warm-up" if cell["warmup"] else f"rep {cell['rep']}"
    print(
        f"[{tag}] {cell['system']:<14} enqueue {fmt(cell['enqueue_rate'])}/s drain10 "
        f"{fmt(cell['drain10_rate'])}/s drain100 {fmt(cell['drain100_rate'])}/s p50 "
        f"{fmt(cell['latency_p50'])} ms p99 {fmt(cell['latency_p99'])} ms "
        f"({cell['cell_s']:.1f} s, load {cell['loadavg1_before']:.2f})",
        file=sys.stderr,
        flush=True,
    )


def _configure_logging() -> None:
    from app.logging import configure_logging

    configure_logging("warning")
    for name in ("saq", "arq", "rq"):
        logging.getLogger(name).addFilter(
            lambda record: "shutdown grace period" not in record.getMessage()
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _configure_logging()
    results = None
    if not args.no_save:
        RESULTS_DIR.mkdir(exist_ok=True)
        results = RESULTS_DIR / f"peers-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.jsonl"
    work = run(args, results)
    if args.loop == "uvloop":
        import uvloop

        report = uvloop.run(work)
    else:
        report = asyncio.run(work)
    print(render(report))
    if results is not None:
        with results.open("a") as out:
            out.write(json.dumps(report) + "\n")
        print(f"\nresults: {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
