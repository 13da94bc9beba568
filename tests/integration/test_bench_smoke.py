"""The benchmarks keep working: a tiny run of each prints its table (no speed is asserted)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The Redis database of bench.peers and bench.load in these tests; they FLUSH it before each cell.
REDIS_DB = "5"


def run_bench(*args: str, timeout: float = 240) -> str:
    """``python -m ARGS`` in the repository; its stdout, after checking it exited 0."""
    result = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def table_row(output: str, name: str) -> list[str]:
    """The cells of the first markdown table row that starts with ``name``."""
    line = next(line for line in output.splitlines() if line.startswith(f"| {name} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_quick_bench_prints_every_scenario() -> None:
    """`python -m bench --quick` finishes and reports raw SAQ and both product scenarios."""
    stdout = run_bench(
        "bench",
        "--quick",
        "--no-save",
        "--loop",
        "asyncio",
        "--scenarios",
        "raw-saq-redis,atspro-sqlite,atspro-redis",
    )
    for scenario in ("raw-saq-redis", "atspro-sqlite", "atspro-redis"):
        assert f"| {scenario} |" in stdout
    assert "events" in stdout


def test_split_mode_row_runs_real_processes() -> None:
    """The split-mode scenario starts 1 web + 2 worker processes on Redis and PostgreSQL, drains
    jobs submitted over HTTP and reports their rates and SSE deliveries."""
    stdout = run_bench(
        "bench",
        "--scenarios",
        "atspro-split",
        "--jobs",
        "30",
        "--paced-jobs",
        "5",
        "--rounds",
        "1",
        "--no-warmup",
        "--no-save",
    )
    submit_rate, _x, drain_rate = table_row(stdout, "atspro-split")[1:4]
    assert submit_rate != "—"
    assert drain_rate != "—"  # every job completed
    sse = [line for line in stdout.splitlines() if line.startswith("| atspro-split |")][-1]
    received, expected = sse.rstrip(" |").rsplit("| ", 1)[1].split("/")
    assert int(expected) == 3 * 35
    assert int(received) > 0


def test_quick_peers_measures_every_system() -> None:
    """`python -m bench.peers --quick` runs the four phases on every system whose library is
    installed (arq and RQ come with the `peers` extra) and fills each row."""
    systems = ["saq-redis", "saq-postgres", "sqlite-queue", "atspro-sqlite", "atspro-redis"]
    systems += ["atspro-split"]
    systems += [name for name in ("arq", "rq") if importlib.util.find_spec(name)]
    stdout = run_bench(
        "bench.peers",
        "--quick",
        "--no-save",
        "--redis-db",
        REDIS_DB,
        "--systems",
        ",".join(systems),
    )
    for system in systems:
        cells = table_row(stdout, system)
        values = cells[1::2]  # name, then value and ratio per column
        assert "—" not in values, cells
    assert table_row(stdout, "saq-redis")[2] == "1.00x"  # the baseline


def test_quick_load_reports_both_modes() -> None:
    """`python -m bench.load --quick` connects its SSE clients to the one-process server and to
    a split fleet, submits over HTTP, and reports memory, latencies and event deliveries."""
    stdout = run_bench("bench.load", "--quick", "--no-save", "--redis-db", REDIS_DB)
    for mode in ("one-process", "split"):
        [heading] = [line for line in stdout.splitlines() if line.startswith(f"### {mode}:")]
        assert "20 streams connected (0 failed" in heading
        assert "MiB per 1,000 SSE clients" in heading
    rows = [line for line in stdout.splitlines() if line.startswith("| 10.0 |")]
    assert len(rows) == 2
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert int(cells[8]) > 0  # events delivered to the watchers


def test_quick_growth_fills_the_table_and_measures() -> None:
    """`python -m bench.growth --quick` bulk-loads 100 and 1,000 jobs, starts the app on each
    file and measures the job list and a drain."""
    stdout = run_bench("bench.growth", "--quick", "--no-save")
    for size in ("100", "1,000"):
        cells = table_row(stdout, size)
        assert "—" not in cells, cells


@pytest.mark.skipif(
    shutil.which("py-spy") is None and not Path(sys.executable).with_name("py-spy").exists(),
    reason="py-spy comes with the `bench` extra",
)
def test_profile_samples_the_drain() -> None:
    """`python -m bench.profile` reads each thread's CPU from the kernel on one drain, then
    drains again under py-spy and groups the samples by thread."""
    stdout = run_bench("bench.profile", "--jobs", "60", "--rate", "200")
    assert "CPU by thread, from the kernel" in stdout
    assert "| thread | CPU µs per job | cores |" in stdout  # (60 jobs: a few clock ticks)
    assert "By thread:" in stdout
    assert "loop:" in stdout  # the event loop thread was sampled


def test_statements_times_every_variant() -> None:
    """`python -m bench.statements` runs each hot-write variant on a real SQLite file."""
    stdout = run_bench("bench.statements", "--jobs", "20", "--reps", "1")
    for label in (
        "store.change + event row (app.db.execute)",
        "status = 'running'",
        "exec_driver_sql",
    ):
        assert label in stdout


def test_timeline_times_every_step_of_a_cycle() -> None:
    """`python -m bench.timeline` probes a real drain and times each step of the cycle; every
    probe fires (a renamed method it wraps leaves its steps empty, and this fails)."""
    from bench.timeline import STEPS

    stdout = run_bench("bench.timeline", "--jobs", "200")
    for name, *_ in STEPS:
        cells = table_row(stdout, name)
        assert cells[2] != "—", cells
        assert float(cells[2].replace(",", "")) >= 0, cells
        assert int(cells[3].replace(",", "")) >= 5, cells  # ~20 cycles, the middle 80 %
    cycle = table_row(stdout, "**cycle** (one group's start to the next)")
    assert float(cycle[2].strip("*").replace(",", "")) > 0, cycle


def test_timeline_times_the_writer_alone() -> None:
    """`python -m bench.timeline --writer` commits groups through the real writer thread."""
    stdout = run_bench("bench.timeline", "--writer", "--jobs", "100")
    assert "[writer alone, rep 1] cycle p50" in stdout
    assert " jobs/s" in stdout
