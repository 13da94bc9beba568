"""``python -m bench.timeline``: the critical path of one cycle of the one-process product.

With the SQLite default a worker runs its jobs in cycles of ``concurrency`` (10): the writer
thread commits the last group's completions together with the next group's starts, then the
event loop hands the results out, runs the ten job bodies and sends their completions back.
Those two halves take turns, so a cycle lasts their sum plus the hand-offs between threads
(bench/PROFILE.md explains why they cannot overlap under the GIL). CPU profiles
(``bench.profile``) say what each thread spends; this says which of it is on the path.

1. ``--jobs`` no-op jobs are submitted with no workers running, then the app serves with its
   workers while probes (``unittest.mock.patch.object`` around the writer's group commit, the
   Batcher's write, the pump's ``_start``, each job's ``execute`` and ``complete``, the hand-back
   of results to the loop) record a monotonic timestamp per event.
2. The middle 80 % of the drain is cut into steps, each the time from one event to the next
   one of the kind that follows it on the path; the table gives their medians over all cycles.
3. ``--writer``: the writer alone. Groups of ten completions and ten starts go through
   ``JobService._write_together`` back to back with nothing else running; the cycle's wall
   time and the writer thread's CPU per job (the kernel's counters) measure changes to the
   transaction without the loop's share or its noise.

The probes wrap private methods on purpose: it is a profiling aid, and its smoke test
(tests/integration/test_bench_smoke.py) fails when one of them is renamed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import app.db
from app.jobs.batch_worker import BatchWorker
from app.jobs.runner import JobRunner
from app.jobs.service import JobService, _Completion, _Start
from app.lifespan import build
from bench.product import JOB_TYPE
from bench.profile import _settings, drain, submit_jobs, thread_cpu
from bench.stats import markdown_table

Event = tuple[int, str]  # (perf_counter_ns, kind)
CYCLE = "cycle"

# (step, from event, to the next event of this kind, thread): the path of one cycle, in order.
STEPS = (
    (
        "the writer's transaction (completions, next starts, events, attempts, commit)",
        "write",
        "written",
        "writer",
    ),
    ("the writer's commit → the loop takes the results", "written", "delivered", "—"),
    ("results handed out → the next group's tasks exist", "delivered", "started", "loop"),
    ("tasks exist → the first job body", "started", "body", "loop"),
    ("the job bodies (first `execute` → last `complete`)", "body", "completed", "loop"),
    ("the last body → the pump starts the next group", "completed", "start", "loop"),
    ("the pump's start → the Batcher's write is queued", "start", "put", "loop"),
    ("queued → the writer begins (it waits for the GIL)", "put", "write", "—"),
)


@contextlib.contextmanager
def probes() -> Iterator[list[Event]]:
    """Record the events of ``STEPS`` while the block runs (from any thread)."""
    events: list[Event] = []
    now = time.perf_counter_ns

    def record(kind: str) -> None:
        events.append((now(), kind))  # list.append is atomic under the GIL

    def around(owner: Any, name: str, before: str | None, after: str | None) -> Any:
        original = getattr(owner, name)
        if asyncio.iscoroutinefunction(original):

            async def wrapped_async(*args: Any, **kwargs: Any) -> Any:
                if before:
                    record(before)
                try:
                    return await original(*args, **kwargs)
                finally:
                    if after:
                        record(after)

            return mock.patch.object(owner, name, wrapped_async)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if before:
                record(before)
            try:
                return original(*args, **kwargs)
            finally:
                if after:
                    record(after)

        return mock.patch.object(owner, name, wrapped)

    with contextlib.ExitStack() as stack:
        for owner, name, before, after in (
            (app.db.SQLiteDatabase, "_commit_group", "write", "written"),
            (app.db.SQLiteDatabase, "write", "put", None),
            (app.db, "_deliver_all", "delivered", None),
            (BatchWorker, "_start", "start", "started"),
            (JobRunner, "execute", "body", None),
            (JobService, "complete", "completed", None),
        ):
            stack.enter_context(around(owner, name, before, after))
        yield events


def steps(events: list[Event]) -> dict[str, list[float]]:
    """Each step's durations in µs over the middle 80 % of the drain: for every event that opens
    a step, the time to the next event that closes it. Two steps are per group: the job bodies
    run from the first ``body`` after a group's tasks exist to the last ``completed`` before the
    pump's next ``start``, and "the last body → the pump" from that ``completed``."""
    events = sorted(events)
    cut = len(events) // 10
    events = events[cut : len(events) - cut]
    found: dict[str, list[float]] = {name: [] for name, *_ in STEPS}
    bodies, to_pump = STEPS[4][0], STEPS[5][0]
    for index, (at, kind) in enumerate(events):
        for name, opening, closing, _thread in STEPS:
            if kind != opening or name in (bodies, to_pump):
                continue
            after = itertools.islice(events, index + 1, None)  # no copy of the rest per event
            end = next((later for later, seen in after if seen == closing), None)
            if end is not None:
                found[name].append((end - at) / 1000)
        if kind == "started":  # a group's tasks exist: its bodies, then the pump
            group = _group(itertools.islice(events, index + 1, None))
            if group is not None:
                first_body, last_completed, pump = group
                found[bodies].append((last_completed - first_body) / 1000)
                found[to_pump].append((pump - last_completed) / 1000)
    starts = [at for at, kind in events if kind == "start"]
    found[CYCLE] = [(b - a) / 1000 for a, b in itertools.pairwise(starts)]
    return found


def _group(events: Iterable[Event]) -> tuple[int, int, int] | None:
    """(first ``body``, last ``completed``, the pump's ``start``) of the group whose tasks were
    created just before ``events``; None if the drain's window ends first."""
    first_body = last_completed = None
    for at, kind in events:
        if kind == "body" and first_body is None:
            first_body = at
        elif kind == "completed":
            last_completed = at
        elif kind == "start":
            if first_body is None or last_completed is None:
                return None
            return first_body, last_completed, at
    return None


async def trace(jobs: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="atspro-timeline-") as tmp:
        data_dir = Path(tmp)
        await submit_jobs(data_dir, jobs)
        with probes() as events:
            await drain(data_dir, jobs)  # bench.profile's: serve until every job is completed
        return steps(list(events))


async def writer_alone(jobs: int, group: int = 10) -> dict[str, float]:
    """Cycles of ``group`` completions and ``group`` starts through ``_write_together``, one
    after another: the median cycle (µs) and the writer thread's CPU per job (µs)."""
    with tempfile.TemporaryDirectory(prefix="atspro-timeline-") as tmp:
        async with build(_settings(Path(tmp))) as container:
            user, _token = await container.auth.create_user(f"tl-{uuid.uuid4().hex[:8]}@x.io")
            ids = [
                (await container.jobs.submit(user.id, JOB_TYPE, {}, priority=5)).id
                for _ in range(jobs)
            ]
            service: JobService = container.jobs
            held: list[Any] = []
            cycles: list[float] = []
            cpu_before = thread_cpu()["writer"]
            began = time.perf_counter()
            for first in range(0, jobs, group):
                items: list[_Start | _Completion] = [
                    _Completion(row.id, row.attempt, {"ok": True}, None, row) for row in held
                ]
                items.append(_Start(tuple(ids[first : first + group]), "timeline"))
                at = time.perf_counter()
                results = await service._write_together(items)
                cycles.append((time.perf_counter() - at) * 1e6)
                held = [row for row in results[-1] if row is not None]
            elapsed = time.perf_counter() - began
            cpu = thread_cpu()["writer"] - cpu_before
    return {
        "cycle_us": statistics.median(cycles),
        "writer_cpu_us_per_job": cpu / jobs * 1e6,
        "jobs_per_s": jobs / elapsed,
    }


def render(found: dict[str, list[float]], jobs: int) -> str:
    rows = []
    for name, _opening, _closing, thread in STEPS:
        values = found[name]
        rows.append(
            [
                name,
                thread,
                f"{statistics.median(values):,.0f}" if values else "—",
                f"{len(values):,}",
            ]
        )
    cycle = found[CYCLE]
    rows.append(
        [
            "**cycle** (one group's start to the next)",
            "",
            f"**{statistics.median(cycle):,.0f}**" if cycle else "—",
            f"{len(cycle):,}",
        ]
    )
    table = markdown_table(["step", "thread", "median µs", "samples"], rows)
    return f"## One cycle of {jobs:,} no-op jobs drained at concurrency 10\n\n{table}\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.timeline", description=__doc__)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=1, help="repeat; medians of all cycles")
    parser.add_argument("--writer", action="store_true", help="the writer alone (step 3)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.writer:
        for rep in range(args.reps):
            figures = asyncio.run(writer_alone(args.jobs))
            print(
                f"[writer alone, rep {rep + 1}] cycle p50 {figures['cycle_us']:,.0f} µs, "
                f"writer CPU {figures['writer_cpu_us_per_job']:.1f} µs per job, "
                f"{figures['jobs_per_s']:,.0f} jobs/s"
            )
        return 0
    merged: dict[str, list[float]] = {}
    for _ in range(args.reps):
        for name, values in asyncio.run(trace(args.jobs)).items():
            merged.setdefault(name, []).extend(values)
    print(render(merged, args.jobs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
