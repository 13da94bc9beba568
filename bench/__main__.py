"""``python -m bench``: throughput and latency of the product next to raw SAQ on Redis.

Every round runs every scenario once, in a rotated order, so drift and noise hit all of them
alike; round 0 is a smaller warm-up and is discarded; the tables show the median of the rounds.

Per scenario and round, with concurrency 10 on the queue that runs the jobs:

* burst: ``--jobs`` no-op jobs submitted back to back by one producer, then drained;
  submit rate = jobs / submit time; drain rate = jobs / (first submit → last completed);
  tail rate = jobs completed after the last submit / (last submit → last completed);
  submit → start p50/p95/p99 (dominated by the backlog, so it mirrors throughput);
* paced: ``--paced-jobs`` at ``--paced-rate`` per second, below every scenario's capacity, for
  submit → start latency without a backlog;
* product only: change → SSE client p50/p99, measured by a real HTTP client in another process
  over every event (created, started, completed) of the burst and of the paced phase.

``atspro-split`` is split mode as deployed: 1 web + 2 worker processes (Redis queue and events,
PostgreSQL app tables), jobs submitted over HTTP; see ``bench/split.py``.

Results also go to ``bench/results/<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError

from bench import product, raw_saq, split
from bench.common import CONCURRENCY, REDIS_BASE_URL, RoundResult, Workload, pick_redis_db
from bench.stats import fmt, markdown_table, median, ratio

RAW = "raw-saq-redis"
SCENARIOS = (RAW, "atspro-sqlite", "atspro-redis", split.SCENARIO)
RESULTS_DIR = Path(__file__).resolve().parent / "results"

Runner = Callable[[Workload, int, bool], Awaitable[RoundResult]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2000, help="burst jobs per scenario and round")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (plus a warm-up)")
    parser.add_argument("--paced-jobs", type=int, default=150)
    parser.add_argument(
        "--paced-rate",
        type=float,
        default=25.0,
        help="jobs/s in the paced phase: keep it below every scenario's capacity",
    )
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run (< 60 s)")
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help=f"comma-separated, from {SCENARIOS}"
    )
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="event loop (uvloop is what `atspro serve` gets from uvicorn)",
    )
    parser.add_argument("--no-sse", action="store_true", help="product rounds without SSE client")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    parser.add_argument("--no-warmup", action="store_true", help="skip the warm-up round")
    parser.add_argument(
        "--profile",
        metavar="SCENARIO",
        help="instead: profile one round of SCENARIO with pyinstrument (pip install pyinstrument)",
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per phase")
    args = parser.parse_args(argv)
    if args.quick:
        args.jobs, args.rounds, args.paced_jobs = 200, 1, 20
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {SCENARIOS}")
    if args.profile and args.profile not in SCENARIOS:
        parser.error(f"--profile takes one of {SCENARIOS}")
    return args


def make_runners(args: argparse.Namespace, redis_db: int) -> dict[str, Runner]:
    with_sse = not args.no_sse

    async def raw(workload: Workload, round_no: int, warmup: bool) -> RoundResult:
        return await raw_saq.run_round(
            workload, redis_db=redis_db, round_no=round_no, warmup=warmup
        )

    def ours(spec: dict[str, Any]) -> Runner:
        async def run(workload: Workload, round_no: int, warmup: bool) -> RoundResult:
            return await product.run_round(
                workload, round_no=round_no, warmup=warmup, with_sse=with_sse, **spec
            )

        return run

    async def fleet(workload: Workload, round_no: int, warmup: bool) -> RoundResult:
        return await split.run_round(
            workload, redis_db=redis_db, round_no=round_no, warmup=warmup, with_sse=with_sse
        )

    return {
        RAW: raw,
        "atspro-sqlite": ours(product.sqlite_scenario()),
        "atspro-redis": ours(product.redis_scenario(redis_db)),
        split.SCENARIO: fleet,
    }


def _configure_logging() -> None:
    """As `atspro serve` does, at warning level; minus SAQ's note that it cancels idle slots
    when a worker stops (every round stops three workers)."""
    from app.logging import configure_logging

    configure_logging("warning")
    logging.getLogger("saq").addFilter(
        lambda record: "did not finish within the shutdown grace period" not in record.getMessage()
    )


async def _redis_db(args: argparse.Namespace) -> int:
    try:
        return await pick_redis_db()
    except (OSError, RedisError) as error:
        if any(name != "atspro-sqlite" for name in args.scenarios):
            sys.exit(
                f"Redis at {REDIS_BASE_URL} is not reachable ({error}); start it, "
                "or run only the SQLite product with --scenarios atspro-sqlite"
            )
        return 0  # unused


async def run(args: argparse.Namespace) -> dict[str, Any]:
    redis_db = await _redis_db(args)
    runners = make_runners(args, redis_db)
    measured = Workload(args.jobs, args.paced_jobs, args.paced_rate, args.timeout)
    warm = Workload(
        max(20, min(300, args.jobs // 4)), min(args.paced_jobs, 20), args.paced_rate, args.timeout
    )
    scenarios = args.scenarios
    results: list[RoundResult] = []
    began = time.perf_counter()
    for round_no in range(1 if args.no_warmup else 0, args.rounds + 1):
        warmup = round_no == 0
        shift = round_no % len(scenarios)
        for name in scenarios[shift:] + scenarios[:shift]:
            result = await runners[name](warm if warmup else measured, round_no, warmup)
            results.append(result)
            _progress(result)
    summary = summarize([r for r in results if not r.warmup], scenarios)
    return {
        "started_at": datetime.now(UTC).isoformat(),
        "wall_s": time.perf_counter() - began,
        "args": {k: v for k, v in vars(args).items() if k != "profile"},
        "machine": await _machine(redis_db),
        "summary": summary,
        "rounds": [r.to_json() for r in results],
    }


def summarize(results: list[RoundResult], scenarios: list[str]) -> dict[str, dict[str, Any]]:
    summary: dict[str, dict[str, Any]] = {}
    for name in scenarios:
        rounds = [r.metrics() for r in results if r.scenario == name]
        keys = rounds[0].keys() if rounds else []
        summary[name] = {key: median(m[key] for m in rounds) for key in keys}
        summary[name]["rounds"] = len(rounds)
        sse = [r for r in results if r.scenario == name and r.sse_expected]
        if sse:
            summary[name]["sse_received"] = sum(r.sse_events or 0 for r in sse)
            summary[name]["sse_expected"] = sum(r.sse_expected or 0 for r in sse)
    return summary


def render(report: dict[str, Any]) -> str:
    summary = report["summary"]
    raw = summary.get(RAW, {})
    args = report["args"]
    out = [
        f"## Benchmark: {args['jobs']} no-op jobs per burst, {args['paced_jobs']} paced at "
        f"{args['paced_rate']:g}/s, concurrency 10, median of {args['rounds']} round(s) "
        f"(warm-up discarded), loop {args['loop']}",
        "",
        "Ratios (x) compare with raw SAQ on Redis: ours/raw for rates, raw/ours for latencies, "
        "so **> 1 means the product is better**.",
        "",
    ]

    def cell(name: str, key: str, higher: bool) -> list[str]:
        value = summary[name].get(key)
        return [fmt(value), ratio(value, raw.get(key), higher_is_better=higher)]

    rate_keys = [("submit_rate", "submit/s"), ("drain_rate", "drain/s"), ("tail_rate", "tail/s")]
    header = ["scenario"]
    for _key, label in rate_keys:
        header += [label, "x"]
    rows = []
    for name in summary:
        row = [name]
        for key, _label in rate_keys:
            row += cell(name, key, True)
        rows.append(row)
    out += ["### Throughput (jobs/s)", "", markdown_table(header, rows), ""]

    lat_keys = [
        ("start_p50", "burst p50"),
        ("start_p95", "burst p95"),
        ("start_p99", "burst p99"),
        ("paced_start_p50", "paced p50"),
        ("paced_start_p95", "paced p95"),
        ("paced_start_p99", "paced p99"),
    ]
    header = ["scenario"]
    for _key, label in lat_keys:
        header += [label, "x"]
    rows = []
    for name in summary:
        row = [name]
        for key, _label in lat_keys:
            row += cell(name, key, False)
        rows.append(row)
    out += [
        "### Submit → start (ms)",
        "",
        markdown_table(header, rows),
        "",
        "Burst latencies are mostly time spent in the backlog, so a slow producer makes them look "
        "good; the paced columns are the like-for-like latency.",
    ]
    slow = [
        f"{name} ({fmt(values.get('paced_rate'))}/s)"
        for name, values in summary.items()
        if values.get("paced_rate") and values["paced_rate"] < 0.9 * args["paced_rate"]
    ]
    if slow:
        out.append(
            f"Warning: the paced phase did not reach {args['paced_rate']:g}/s for "
            f"{', '.join(slow)}: those producers were the bottleneck; lower --paced-rate."
        )
    out.append("")

    sse_rows = []
    for name, values in summary.items():
        if "sse_expected" not in values:
            continue
        sse_rows.append(
            [
                name,
                fmt(values.get("sse_p50")),
                fmt(values.get("sse_p99")),
                fmt(values.get("paced_sse_p50")),
                fmt(values.get("paced_sse_p99")),
                f"{values['sse_received']}/{values['sse_expected']}",
            ]
        )
    if sse_rows:
        header = ["scenario", "burst p50", "burst p99", "paced p50", "paced p99", "events"]
        out += [
            "### State change → SSE client (ms; raw SAQ has no events)",
            "",
            markdown_table(header, sse_rows),
            "",
        ]
        lost = [
            f"{name} ({values['sse_expected'] - values['sse_received']})"
            for name, values in summary.items()
            if values.get("sse_expected") and values["sse_received"] < values["sse_expected"]
        ]
        if lost:
            out += [
                f"Events that never reached the client: {', '.join(lost)}. Each job makes three "
                "events (created, started, completed); a missing one was skipped by the stream.",
                "",
            ]
    if split.SCENARIO in summary:
        out += [
            f"{split.SCENARIO} submits over HTTP ({split.SUBMITTERS} requests in flight) to one "
            f"web process, with {split.WORKERS} worker processes at concurrency {CONCURRENCY} "
            "each: its burst rates are the web process's submit rate, not the workers' drain "
            "capacity.",
            "",
        ]
    out.append(f"Wall time {report['wall_s']:.0f} s.")
    return "\n".join(out)


def _progress(result: RoundResult) -> None:
    m = result.metrics()
    tag = "warm-up" if result.warmup else f"round {result.round}"
    sse = f" sse p50 {fmt(m['sse_p50'])} ms" if result.sse_expected else ""
    print(
        f"[{tag}] {result.scenario:<14} setup {result.setup_s:.1f}s submit {fmt(m['submit_rate'])}"
        f"/s drain {fmt(m['drain_rate'])}/s start p50 {fmt(m['start_p50'])} ms paced p50 "
        f"{fmt(m['paced_start_p50'])} ms at {fmt(m['paced_rate'])}/s{sse}",
        file=sys.stderr,
        flush=True,
    )


async def _machine(redis_db: int) -> dict[str, Any]:
    import os
    from importlib.metadata import version

    from redis.asyncio import Redis

    client = Redis.from_url(f"{REDIS_BASE_URL}/{redis_db}")
    try:
        redis_version = (await client.info("server")).get("redis_version")
    except (OSError, RedisError):
        redis_version = None
    finally:
        await client.aclose()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "saq": version("saq"),
        "redis_server": redis_version,
        "redis_db": redis_db,
    }


async def profile(args: argparse.Namespace) -> None:
    """One warm-up and one profiled round of one scenario; the report goes to bench/results/."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        sys.exit("--profile needs pyinstrument: .venv/bin/pip install pyinstrument")
    redis_db = await _redis_db(args)
    runner = make_runners(args, redis_db)[args.profile]
    workload = Workload(args.jobs, args.paced_jobs, args.paced_rate, args.timeout)
    await runner(Workload(300, 0, args.paced_rate, args.timeout), 0, True)
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    result = await runner(workload, 1, False)
    profiler.stop()
    _progress(result)
    RESULTS_DIR.mkdir(exist_ok=True)
    stem = RESULTS_DIR / f"profile-{args.profile}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    stem.with_suffix(".html").write_text(profiler.output_html())
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    stem.with_suffix(".txt").write_text(text)
    print(text)
    print(f"profile written to {stem}.html/.txt", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _configure_logging()
    work = profile(args) if args.profile else run(args)
    if args.loop == "uvloop":
        import uvloop

        report = uvloop.run(work)
    else:
        report = asyncio.run(work)
    if args.profile:
        return 0
    assert report is not None
    print(render(report))
    if not args.no_save:
        RESULTS_DIR.mkdir(exist_ok=True)
        path = RESULTS_DIR / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
        path.write_text(json.dumps(report, indent=2, default=str))
        print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
