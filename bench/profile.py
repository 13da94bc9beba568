"""``python -m bench.profile``: where the one-process product on SQLite spends its time draining
no-op jobs, sampled across every thread with py-spy (``pip install py-spy``; part of the
``bench`` extra).

1. This process submits ``--jobs`` no-op ``diagnostic.echo`` jobs into a fresh data directory
   with no workers running (``app.lifespan.build`` + ``JobService.submit``).
2. ``py-spy record --threads --format raw`` starts ``python -m bench.profile --drain DIR``: the
   app under uvicorn on that directory, workers at concurrency 10, exiting when all jobs are
   completed. Start-up shows up in the samples too; it is set apart (imports, migrations).
3. Both runs happen: every thread with idle ones excluded, and the GIL holder only (``--gil``).
   Samples are grouped by thread (event loop, app-database writer, database readers, the queue's
   aiosqlite thread) and by the first rule of ``PARTS`` their stack matches; the tables say what
   share of the samples each took and the time per job it amounts to.
4. First, one drain runs without py-spy and reads each thread's CPU time from the kernel
   (``/proc/self/task/*/stat``) when the app is up and when the last job is done: unperturbed by
   sampling, and the only figure that counts CPU in C code with the GIL released (SQLite's own
   work) apart from waiting. py-spy's ``--gil`` view takes the last thread that held the GIL for
   its holder, so a loop idle in ``epoll_wait`` can show as "no Python frame" time; where the two
   disagree, trust the kernel's counters.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.lifespan import build
from app.settings import Settings
from bench.common import CONCURRENCY, wait_until
from bench.product import JOB_TYPE, serve
from bench.stats import markdown_table

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        log_level="warning",
        progress_event_interval_s=0,
        concurrency_default=CONCURRENCY,
        shutdown_grace_s=1,
    )


async def submit_jobs(data_dir: Path, jobs: int) -> None:
    async with build(_settings(data_dir)) as container:
        user, _token = await container.auth.create_user(f"profile-{uuid.uuid4().hex[:8]}@x.io")
        for _ in range(jobs):
            await container.jobs.submit(user.id, JOB_TYPE, {}, priority=5)


async def drain(data_dir: Path, jobs: int) -> dict[str, Any]:
    """Serve on ``data_dir`` until ``jobs`` jobs are completed (the profiled child); the CPU
    seconds each group of threads used meanwhile."""
    began = time.perf_counter()
    async with serve(_settings(data_dir)) as (app, _url):
        ready = time.perf_counter()
        cpu_before = thread_cpu()
        metrics = app.state.container.metrics

        async def done() -> bool:
            # The app's own count of committed completions: no query in the measured process.
            return metrics.count("completed", JOB_TYPE) >= jobs

        await wait_until(done, 600, f"{jobs} jobs", interval_s=0.005)
        drained = time.perf_counter()
        cpu = thread_cpu()
    cpu.subtract(cpu_before)
    return {"startup_s": ready - began, "drain_s": drained - ready, "cpu_s": dict(cpu)}


def thread_cpu() -> Counter[str]:
    """CPU seconds (user + system) this process's threads have used, by ``THREADS`` group, from
    the kernel's per-thread counters (a thread that ended is not counted)."""
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    used: Counter[str] = Counter()
    for tid in os.listdir("/proc/self/task"):
        try:
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
        except OSError:
            continue  # it ended meanwhile
        fields = stat.rsplit(")", 1)[1].split()  # after "(comm)": state is fields[0]
        name = names.get(int(tid), "")
        group = next((group for group, pattern in THREADS if pattern.search(name)), "other")
        used[group] += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return used


# --- reading py-spy's samples -------------------------------------------------------------------

THREADS = (
    ("writer", re.compile(r"atspro-db-writer")),
    ("queue thread", re.compile(r"_connection_worker_thread")),
    ("readers", re.compile(r"AnyIO worker thread")),
    ("loop", re.compile(r"MainThread")),
)
# First match wins. "stack": anywhere in the stack; "leaf": the innermost frame only.
PARTS: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("start-up (imports, migrations)", "stack", re.compile(r"_find_and_load|alembic|app/migrate")),
    (
        "IN (...) list re-rendered per execution",
        "stack",
        re.compile(r"_process_parameters_for_postcompile"),
    ),
    ("pydantic (validate, model_dump)", "stack", re.compile(r"pydantic")),
    ("JSON encode/decode", "stack", re.compile(r"\(json/|orjson")),
    (
        "sqlite3 C calls (execute, commit)",
        "leaf",
        re.compile(
            r"(do_execute|do_commit|do_rollback) \(sqlalchemy"
            r"|\(app/queues/sqlite_(store|schema)\.py"
        ),
    ),
    ("SQLAlchemy Core (cache lookup, binds, rows)", "stack", re.compile(r"sqlalchemy/")),
    (
        "hand-offs between threads",
        "stack",
        re.compile(r"settle \(app/db|call_soon_threadsafe|run_sync_in_worker_thread|to_thread"),
    ),
    ("event publish / SSE", "stack", re.compile(r"app/jobs/events\.py|sse_starlette")),
    ("SQLite queue (claims, wake-ups, batching)", "stack", re.compile(r"app/queues/")),
    ("SAQ worker", "stack", re.compile(r"saq/")),
    ("job service, runner, task", "stack", re.compile(r"app/jobs/|app/tasks/")),
    (
        "thread plumbing (queue.get, futures)",
        "stack",
        re.compile(r"threading\.py|queue\.py|concurrent/futures|aiosqlite/"),
    ),
    ("event loop core (uvloop, asyncio)", "stack", re.compile(r"Runner\.run|uvloop|asyncio/")),
)


def classify(stack: str) -> tuple[str, str]:
    """(thread, part) of one sampled stack."""
    frames = stack.split(";")
    thread = next((name for name, pattern in THREADS if pattern.search(frames[0])), "other")
    if len(frames) == 1:
        return thread, "no Python frame (native code)"
    for name, where, pattern in PARTS:
        if pattern.search(frames[-1] if where == "leaf" else stack):
            return thread, name
    return thread, "other"


def summarize(raw: Path) -> dict[str, Any]:
    """Sample counts by thread and by (thread, part); start-up samples counted apart."""
    threads: Counter[str] = Counter()
    parts: Counter[str] = Counter()
    startup = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        thread, part = classify(stack)
        if part.startswith("start-up"):
            startup += count
            continue
        threads[thread] += count
        parts[f"{thread}: {part}"] += count
    return {"threads": dict(threads), "parts": dict(parts), "startup": startup}


def render(profiles: dict[str, dict[str, Any]], meta: dict[str, Any]) -> str:
    rate, jobs = meta["rate"], meta["jobs"]
    kernel = meta["kernel"]
    cpu, drain_s = kernel["cpu_s"], kernel["drain_s"]
    total = sum(cpu.values())
    lines = [
        f"## Profile: {jobs} no-op jobs drained by the one-process product on SQLite "
        f"(concurrency 10), py-spy at {rate} Hz; load average {meta['loadavg']}",
        "",
        f"### CPU by thread, from the kernel (no sampler): drain {drain_s:.2f} s "
        f"({jobs / drain_s:,.0f} jobs/s); {total / drain_s:.2f} cores busy on average, "
        f"{total / jobs * 1e6:,.0f} µs of CPU per job",
        "",
        markdown_table(
            ["thread", "CPU µs per job", "cores"],
            [
                [name, f"{seconds / jobs * 1e6:,.0f}", f"{seconds / drain_s:.2f}"]
                for name, seconds in sorted(cpu.items(), key=lambda kv: -kv[1])
                if seconds > 0
            ],
        ),
        "",
    ]
    for label, profile in profiles.items():
        summary, drain_s = profile["summary"], profile["drain_s"]
        busy = sum(summary["threads"].values())
        lines += [
            f"### {label}: drain {drain_s:.1f} s ({jobs / drain_s:.0f} jobs/s); {busy} samples "
            f"= {busy / rate / drain_s:.2f} threads busy on average, "
            f"{busy / rate / jobs * 1e6:,.0f} µs per job",
            "",
            "By thread: "
            + ", ".join(
                f"{name} {100 * n / busy:.0f} %"
                for name, n in sorted(summary["threads"].items(), key=lambda kv: -kv[1])
            ),
            "",
        ]
        rows = [
            [key, f"{100 * count / busy:.1f} %", f"{count / rate / jobs * 1e6:,.0f}"]
            for key, count in sorted(summary["parts"].items(), key=lambda kv: -kv[1])
            if count / busy >= 0.005
        ]
        lines += [markdown_table(["thread: part", "share", "µs per job"], rows), ""]
    return "\n".join(lines)


def _drain_command(args: argparse.Namespace, data_dir: Path, meta_path: Path) -> list[str]:
    """A fresh backlog of ``args.jobs`` in ``data_dir``, and the command that drains it."""
    shutil.rmtree(data_dir, ignore_errors=True)
    import uvloop

    uvloop.run(submit_jobs(data_dir, args.jobs))
    return [
        *(sys.executable, "-m", "bench.profile", "--jobs", str(args.jobs)),
        *("--drain", str(data_dir), "--meta", str(meta_path)),
    ]


def _kernel_profile(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """One drain without py-spy: its time and each thread group's CPU seconds."""
    meta_path = tmp / "m.json"
    command = _drain_command(args, tmp / "data", meta_path)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return dict(json.loads(meta_path.read_text()))


def _profile(py_spy: str, args: argparse.Namespace, tmp: Path, gil: bool) -> dict[str, Any]:
    raw, meta_path = tmp / "raw.txt", tmp / "m.json"
    drain_command = _drain_command(args, tmp / "data", meta_path)
    command = [py_spy, "record", "--threads", "--nonblocking", "--format", "raw"]
    command += ["--gil"] if gil else []
    command += ["--rate", str(args.rate), "-o", str(raw), "--", *drain_command]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    timings = json.loads(meta_path.read_text())
    RESULTS_DIR.mkdir(exist_ok=True)
    kind = "gil" if gil else "threads"
    stem = RESULTS_DIR / f"profile-sqlite-{kind}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    shutil.copy(raw, stem.with_suffix(".raw.txt"))
    return {**timings, "summary": summarize(raw), "raw": str(stem.with_suffix(".raw.txt"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--drain", metavar="DATA_DIR", help=argparse.SUPPRESS)
    parser.add_argument("--meta", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    import uvloop

    from app.logging import configure_logging

    configure_logging("warning")
    if args.drain:  # the child under py-spy
        timings = uvloop.run(drain(Path(args.drain), args.jobs))
        Path(args.meta).write_text(json.dumps(timings))
        return 0
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        sys.exit("py-spy is missing: .venv/bin/pip install -e '.[bench]'")
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        kernel = _kernel_profile(args, Path(tmp))
        profiles = {
            "every thread, idle excluded": _profile(py_spy, args, Path(tmp), gil=False),
            "GIL holder only (--gil)": _profile(py_spy, args, Path(tmp), gil=True),
        }
    meta: dict[str, Any] = {"rate": args.rate, "jobs": args.jobs, "kernel": kernel}
    meta["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    path = RESULTS_DIR / f"profile-sqlite-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps({"meta": meta, "profiles": profiles}, indent=2))
    print(render(profiles, meta))
    print(f"\nsummary: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
