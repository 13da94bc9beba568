"""What only the SQLite queue has: in-process wakeups, change polling across processes, safe
cancellation, storage-error back-off and liveness recovery."""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import threading
import time
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st
from saq import Job, Status

from app.queues import SQLiteQueue, make_queue
from app.queues import sqlite_schema as sql
from app.queues.sqlite import job_record
from tests.integration.queues.conftest import Backend, QueueFactory, claimer_process
from tests.integration.queues.test_contract import activate, stored, take


async def open_sqlite(factory: QueueFactory, **options: object) -> SQLiteQueue:
    queue = await factory(**options)
    assert isinstance(queue, SQLiteQueue)
    return queue


def write_from_another_connection(path: str) -> None:
    """Take the write lock from a separate connection; fails if ours left a transaction open."""
    other = sqlite3.connect(path, timeout=2, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("CREATE TABLE IF NOT EXISTS probe (x INTEGER)")
        other.execute("INSERT INTO probe VALUES (1)")
        other.execute("COMMIT")
    finally:
        other.close()


async def test_waiting_dequeue_wakes_on_enqueue(open_sqlite_queue: QueueFactory) -> None:
    """A dequeue waiting on an empty queue returns promptly once a job is enqueued."""
    queue = await open_sqlite(open_sqlite_queue)
    waiting = asyncio.create_task(queue.dequeue(timeout=60))
    await asyncio.sleep(0.2)
    assert not waiting.done()

    await queue.enqueue("noop", key="wake")

    with anyio.fail_after(5):
        job = await waiting
    assert job is not None
    assert job.key == "wake"


async def test_an_idle_dequeuers_claim_joins_the_enqueues_transaction(
    open_sqlite_queue: QueueFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dequeue waiting when a job is enqueued claims it in the insert's transaction: one
    batch holds the insert, then the claim (the wait for a job is one round shorter than a
    claim made after the insert's commit). Both are quick, so the batch runs on the loop."""
    from app.queues import sqlite_store

    queue = await open_sqlite(open_sqlite_queue)
    batches: list[list[Any]] = []
    run_batch, attempt_inline = sqlite_store._run_batch, sqlite_store._attempt_inline

    def record(work: list[Any]) -> None:
        batches.append([getattr(statement, "func", statement) for statement, _ in work])

    def on_thread(conn: Any, work: list[Any], busy_timeout: float) -> Any:
        record(work)
        return run_batch(conn, work, busy_timeout)

    def on_loop(conn: Any, work: list[Any]) -> Any:
        record(work)
        return attempt_inline(conn, work)

    monkeypatch.setattr(sqlite_store, "_run_batch", on_thread)
    monkeypatch.setattr(sqlite_store, "_attempt_inline", on_loop)
    waiting = asyncio.create_task(queue.dequeue(timeout=60))
    await asyncio.sleep(0.2)  # its claim found nothing: idle
    batches.clear()

    await queue.enqueue("noop", key="together")
    with anyio.fail_after(5):
        job = await waiting

    assert job is not None
    assert job.key == "together"
    # The insert, then the claim, in one batch; the change watcher's read of the file's version
    # may share it. No claim in a batch of its own after the commit.
    together = [batch for batch in batches if sql.changes in batch and sql.claim in batch]
    assert together, batches
    assert all(batch.index(sql.changes) < batch.index(sql.claim) for batch in together)
    assert not [batch for batch in batches if sql.claim in batch and sql.changes not in batch]
    assert (await stored(queue, "together")).status == Status.ACTIVE


async def test_jobs_enqueued_while_dequeuers_come_and_go_each_reach_one(
    open_sqlite_queue: QueueFactory,
) -> None:
    """Enqueues racing dequeues that wait, claim and time out in every order: each job is
    handed to exactly one dequeuer (none lost to a claim that ran before its insert)."""
    queue = await open_sqlite(open_sqlite_queue)
    rng = random.Random(8)
    keys = [f"race-{index}" for index in range(60)]

    async def dequeuer() -> list[str]:
        got: list[str] = []
        while True:
            job = await queue.dequeue(timeout=rng.choice([0.05, 0.3]))
            if job is None:
                return got
            got.append(job.key)
            await asyncio.sleep(rng.choice([0, 0, 0.001]))

    async def enqueuer(mine: list[str]) -> None:
        for key in mine:
            await queue.enqueue("noop", key=key)
            if rng.random() < 0.5:
                await asyncio.sleep(rng.choice([0, 0.002, 0.02]))

    with anyio.fail_after(30):
        dequeuers = [asyncio.create_task(dequeuer()) for _ in range(6)]
        await asyncio.gather(*(enqueuer(keys[start::3]) for start in range(3)))
        taken = [key for got in await asyncio.gather(*dequeuers) for key in got]
        while len(taken) < len(keys):  # dequeuers that timed out before the last enqueues
            job = await queue.dequeue(timeout=1)
            assert job is not None, f"lost: {sorted(set(keys) - set(taken))}"
            taken.append(job.key)

    assert sorted(taken) == sorted(keys)


async def test_waiting_dequeue_wakes_when_a_scheduled_job_falls_due(
    open_sqlite_queue: QueueFactory,
) -> None:
    """A waiting dequeue gets a scheduled job when it falls due, with nobody calling schedule()."""
    queue = await open_sqlite(open_sqlite_queue)
    due = int(time.time()) + 1
    await queue.enqueue("noop", key="soon", scheduled=due)

    with anyio.fail_after(10):
        job = await queue.dequeue(timeout=60)

    assert job is not None
    assert job.key == "soon"
    assert time.time() >= due


async def test_enqueue_by_another_process_wakes_a_waiting_dequeue(
    sqlite_backend: Backend, open_sqlite_queue: QueueFactory
) -> None:
    """A job enqueued by another process is noticed through the file's data version."""
    queue = await open_sqlite(open_sqlite_queue)
    waiting = asyncio.create_task(queue.dequeue(timeout=60))

    process = await claimer_process("enqueue", sqlite_backend.url, queue.name, "from-afar")
    try:
        with anyio.fail_after(30):
            assert await process.wait() == 0
            job = await waiting
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert job is not None
    assert job.key == "from-afar"


async def test_cancelled_dequeues_lose_no_job_and_hold_no_lock(
    open_sqlite_queue: QueueFactory,
) -> None:
    """Cancelling dequeues mid-claim leaves no transaction open and every job still claimable."""
    queue = await open_sqlite(open_sqlite_queue)
    keys = [f"x-{i}" for i in range(40)]
    for key in keys:
        await queue.enqueue("noop", key=key)
    received: list[str] = []
    rng = random.Random(7)

    for _ in range(15):
        tasks = [asyncio.create_task(queue.dequeue(timeout=5)) for _ in range(3)]
        for _ in range(rng.randrange(8)):
            await asyncio.sleep(0)
        for task in tasks[1:]:
            task.cancel()
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(outcome, Job):
                received.append(outcome.key)

    await asyncio.to_thread(write_from_another_connection, queue.path)
    with anyio.fail_after(30):
        while (job := await queue.dequeue(timeout=0.5)) is not None:
            received.append(job.key)
    assert sorted(received) == sorted(keys)


async def test_claim_errors_back_off_instead_of_spinning(
    open_sqlite_queue: QueueFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """D1: While the file is locked by someone else, claims fail, are logged and retried
    sparingly."""
    queue = await open_sqlite(open_sqlite_queue, busy_timeout=0.05)
    blocker = sqlite3.connect(queue.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with caplog.at_level(logging.WARNING, logger="saq"):
            assert await queue.dequeue(timeout=1.5) is None
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    failures = [r for r in caplog.records if r.getMessage().startswith("Dequeue from")]
    assert 1 <= len(failures) <= 10
    await queue.enqueue("noop", key="after")
    with anyio.fail_after(15):
        assert (await take(queue, timeout=10)).key == "after"


async def test_sweep_recovers_jobs_of_a_dead_worker(open_sqlite_queue: QueueFactory) -> None:
    """R1: Jobs of a worker that stopped reporting are re-queued, or aborted when final or
    aborting."""
    queue = await open_sqlite(open_sqlite_queue, liveness_grace=0.2)
    await queue.worker_info("worker-dead", queue_key=queue.name, ttl=1)
    await queue.worker_info("worker-live", queue_key=queue.name, ttl=60)
    for key, retries, worker_id in (
        ("orphan", 2, "worker-dead"),
        ("orphan-final", 1, "worker-dead"),
        ("orphan-aborting", 2, "worker-dead"),
        ("alive", 2, "worker-live"),
    ):
        # timeout=0: never stuck by time, so only liveness can recover these
        await queue.enqueue("noop", key=key, timeout=0, retries=retries)
        await activate(await take(queue), worker_id)
    await queue.abort(await stored(queue, "orphan-aborting"), "stop")
    await asyncio.sleep(1.5)  # the dead worker's stats expire (1 s) and the grace passes

    swept = await queue.sweep()

    assert sorted(swept) == ["orphan", "orphan-aborting", "orphan-final"]
    orphan = await stored(queue, "orphan")
    assert (orphan.status, orphan.error, orphan.attempts) == (
        Status.QUEUED,
        queue.swept_error_message,
        1,
    )
    assert (await stored(queue, "orphan-final")).status == Status.ABORTED
    aborted = await stored(queue, "orphan-aborting")
    assert (aborted.status, aborted.error) == (Status.ABORTED, "stop")
    assert (await stored(queue, "alive")).status == Status.ACTIVE


async def test_a_claim_for_a_named_worker_is_recoverable_without_its_mark(
    open_sqlite_queue: QueueFactory,
) -> None:
    """With ``claim_for`` the claim itself records the worker: the Worker's ``update(status=
    active)`` writes nothing, and the job of a worker that dies right after its claim is still
    recovered by liveness (a claim without a worker id never could be)."""
    queue = await open_sqlite(open_sqlite_queue, liveness_grace=0.2)
    queue.claim_for("worker-gone")
    await queue.worker_info("worker-gone", queue_key=queue.name, ttl=1)
    await queue.enqueue("noop", key="claimed", timeout=0, retries=2)
    await queue.enqueue("noop", key="marked", timeout=0, retries=2)
    claimed = await take(queue)
    assert claimed.worker_id == "worker-gone"
    marked = await take(queue)
    observer = sqlite3.connect(queue.path)  # its data_version moves when others commit
    try:
        version = observer.execute("PRAGMA data_version").fetchone()[0]
        await activate(marked, "worker-gone")  # what the Worker does next: nothing to write
        assert observer.execute("PRAGMA data_version").fetchone()[0] == version
    finally:
        observer.close()
    await asyncio.sleep(1.5)  # the worker's stats expire (1 s) and the grace passes

    swept = await queue.sweep()

    assert sorted(swept) == ["claimed", "marked"]
    assert (await stored(queue, "claimed")).status == Status.QUEUED


async def test_queues_sharing_a_file_stay_apart(sqlite_backend: Backend) -> None:
    """Several queue names on one file each see only their own jobs."""
    queues = {name: make_queue(sqlite_backend.url, name) for name in ("high", "default", "low")}
    for queue in queues.values():
        await queue.connect()
    try:
        for name, queue in queues.items():
            await queue.enqueue("noop", key=f"{name}-job")
        for name, queue in queues.items():
            assert await queue.count("queued") == 1
            assert (await take(queue)).key == f"{name}-job"
            assert await queue.dequeue(timeout=0.1) is None
            assert await queue.job(f"{next(n for n in queues if n != name)}-job") is None
    finally:
        for queue in queues.values():
            await queue.disconnect()


def test_make_queue_picks_the_backend_from_the_url() -> None:
    """``make_queue`` maps sqlite, redis and postgres URLs to their queues and rejects others."""
    from saq.queue.postgres import PostgresQueue
    from saq.queue.redis import RedisQueue

    relative = make_queue("sqlite:///data/queue.db", "default")
    absolute = make_queue("sqlite:////var/lib/queue.db", "low")
    assert isinstance(relative, SQLiteQueue)
    assert (relative.path, relative.name) == ("data/queue.db", "default")
    assert isinstance(absolute, SQLiteQueue)
    assert absolute.path == "/var/lib/queue.db"
    assert isinstance(make_queue("redis://127.0.0.1:6379/0", "high"), RedisQueue)
    postgres = make_queue("postgresql+asyncpg://u@127.0.0.1/db", "high")
    assert isinstance(postgres, PostgresQueue)
    assert (postgres.name, postgres.pool.conninfo) == ("high", "postgresql://u@127.0.0.1/db")
    with pytest.raises(ValueError, match="unsupported queue URL scheme 'amqp'"):
        make_queue("amqp://secret@host/", "default")
    with pytest.raises(ValueError, match="sqlite:///"):
        make_queue("sqlite://relative.db", "default")


async def test_dequeue_many_claims_up_to_the_number_asked_for(
    open_sqlite_queue: QueueFactory,
) -> None:
    """One call claims as many jobs as asked for (fewer if fewer wait), all active, none twice;
    an empty queue gives none once the timeout has run out."""
    queue = await open_sqlite(open_sqlite_queue)
    keys = [f"many-{i}" for i in range(5)]
    for key in keys:
        await queue.enqueue("noop", key=key)

    with anyio.fail_after(10):
        first = await queue.dequeue_many(3, timeout=5)
        second = await queue.dequeue_many(3, timeout=5)
    assert len(first) == 3
    assert len(second) == 2
    claimed = [job.key for job in first + second]
    assert sorted(claimed) == sorted(keys)
    for key in claimed:
        assert (await stored(queue, key)).status == Status.ACTIVE

    began = time.monotonic()
    assert await queue.dequeue_many(3, timeout=0.3) == []
    assert time.monotonic() - began >= 0.25


async def test_cancelled_dequeue_many_loses_no_job(open_sqlite_queue: QueueFactory) -> None:
    """Cancelling ``dequeue_many`` at any point hands its claimed jobs back to the queue."""
    queue = await open_sqlite(open_sqlite_queue)
    keys = [f"y-{i}" for i in range(30)]
    for key in keys:
        await queue.enqueue("noop", key=key)
    received: list[str] = []
    rng = random.Random(11)

    for _ in range(12):
        task = asyncio.create_task(queue.dequeue_many(3, timeout=5))
        for _ in range(rng.randrange(8)):
            await asyncio.sleep(0)
        task.cancel()
        outcome = (await asyncio.gather(task, return_exceptions=True))[0]
        if isinstance(outcome, list):
            received.extend(job.key for job in outcome)

    with anyio.fail_after(30):
        while batch := await queue.dequeue_many(4, timeout=0.5):
            received.extend(job.key for job in batch)
    assert sorted(received) == sorted(keys)


async def test_finish_many_writes_every_outcome_and_tells_listeners(
    open_sqlite_queue: QueueFactory,
) -> None:
    """``finish_many`` stores each job's own status, result and error in one write, and the
    queue's listeners hear of each."""
    queue = await open_sqlite(open_sqlite_queue)
    for key in ("done", "broken", "stopped"):
        await queue.enqueue("noop", key=key)
    jobs = {job.key: job for job in await queue.dequeue_many(3, timeout=5)}
    assert set(jobs) == {"done", "broken", "stopped"}
    heard: dict[str, Status] = {}

    def callback(key: str, status: Status) -> bool:
        if status in (Status.COMPLETE, Status.FAILED, Status.ABORTED):
            heard[key] = status
        return len(heard) == 3

    listening = asyncio.create_task(queue.listen(list(jobs), callback, timeout=10))
    await asyncio.sleep(0.1)
    await queue.finish_many(
        [
            (jobs["done"], Status.COMPLETE, {"ok": True}, None),
            (jobs["broken"], Status.FAILED, None, "it broke"),
            (jobs["stopped"], Status.ABORTED, None, "cancelled"),
        ]
    )
    with anyio.fail_after(10):
        await listening
    assert heard == {"done": Status.COMPLETE, "broken": Status.FAILED, "stopped": Status.ABORTED}
    done, broken = await stored(queue, "done"), await stored(queue, "broken")
    assert (done.status, done.result, done.progress) == (Status.COMPLETE, {"ok": True}, 1.0)
    assert (broken.status, broken.error) == (Status.FAILED, "it broke")
    assert (await stored(queue, "stopped")).status == Status.ABORTED
    assert (queue.complete, queue.failed, queue.aborted) == (1, 1, 1)


async def test_quick_writes_run_on_the_loop_and_leave_no_transaction_open(
    open_sqlite_queue: QueueFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An enqueue, a claim and a finish each run on the event loop's thread when no batch is on
    the queue's thread and the lock is free, and commit there: another connection can write
    straight after."""
    import threading

    from app.queues import sqlite_store

    queue = await open_sqlite(open_sqlite_queue)
    on_loop: list[list[Any]] = []
    threads: set[threading.Thread] = set()
    attempt_inline = sqlite_store._attempt_inline

    def recording(conn: Any, work: list[Any]) -> Any:
        threads.add(threading.current_thread())
        outcomes = attempt_inline(conn, work)
        on_loop.append([getattr(statement, "func", statement) for statement, _ in work])
        return outcomes

    monkeypatch.setattr(sqlite_store, "_attempt_inline", recording)
    await queue.enqueue("noop", key="quick")
    (job,) = await queue.dequeue_many(1, timeout=5)
    await queue.finish_many([(job, Status.COMPLETE, {"ok": True}, None)])

    assert threads == {threading.main_thread()}  # the event loop's
    assert [sql.changes] in on_loop  # the insert
    assert [sql.claim] in on_loop
    assert [sql.changes_many] in on_loop  # the finish
    await asyncio.to_thread(write_from_another_connection, queue.path)
    assert (await stored(queue, "quick")).status == Status.COMPLETE


async def test_a_quick_write_waits_for_another_writer_on_the_thread_not_the_loop(
    open_sqlite_queue: QueueFactory,
) -> None:
    """While another connection holds the write lock, an enqueue waits for it on the queue's
    thread: the event loop keeps running meanwhile, and the job is stored once the lock is
    released."""
    queue = await open_sqlite(open_sqlite_queue)
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        other = sqlite3.connect(queue.path, timeout=2, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            locked.set()
            release.wait(10)
            other.execute("COMMIT")
        finally:
            other.close()

    holder = asyncio.create_task(asyncio.to_thread(hold_the_lock))
    await asyncio.to_thread(locked.wait, 10)
    enqueue = asyncio.create_task(queue.enqueue("noop", key="behind-a-lock"))
    ticks = 0
    while ticks < 20:  # the loop turns while the enqueue waits
        await asyncio.sleep(0.01)
        ticks += 1
        assert not enqueue.done()
    release.set()
    with anyio.fail_after(10):
        assert await enqueue is not None
        await holder
    assert (await stored(queue, "behind-a-lock")).status == Status.QUEUED


async def test_a_failing_request_among_quick_ones_fails_alone(
    open_sqlite_queue: QueueFactory,
) -> None:
    """Quick requests sent together run in one transaction on the loop; when one raises,
    nothing of theirs is kept there, and on the queue's thread each runs on its own: only the
    failing one gets the error, the others are committed."""
    from app.queues.sqlite_store import Mode

    queue = await open_sqlite(open_sqlite_queue)
    store = queue._store

    def fine(conn: sqlite3.Connection) -> int:
        conn.execute("CREATE TABLE IF NOT EXISTS probe (x INTEGER)")
        return conn.execute("INSERT INTO probe VALUES (1)").rowcount

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    outcomes = await asyncio.gather(
        store.run(fine, quick=True),
        store.run(broken, quick=True),
        store.run(fine, quick=True),
        return_exceptions=True,
    )
    assert outcomes[0] == outcomes[2] == 1
    assert isinstance(outcomes[1], sqlite3.OperationalError)
    rows = await store.run(
        lambda conn: conn.execute("SELECT count(*) FROM probe").fetchone()[0], mode=Mode.READ
    )
    assert rows == 2


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "function": st.text(min_size=1, max_size=10),
            "kwargs": st.dictionaries(st.text(max_size=5), st.integers() | st.none(), max_size=3),
            "key": st.text(min_size=1, max_size=10),
            "timeout": st.integers(0, 10_000),
            "heartbeat": st.integers(0, 100),
            "retries": st.integers(0, 1000),
            "ttl": st.integers(-1, 10_000),
            "retry_delay": st.floats(0, 100),
            "retry_backoff": st.booleans() | st.floats(0, 10),
            "scheduled": st.integers(0, 2**40),
            "progress": st.floats(0, 1),
            "attempts": st.integers(0, 10),
            "completed": st.integers(0, 2**40),
            "result": st.none() | st.integers() | st.text(max_size=5),
            "error": st.none() | st.text(max_size=20),
            "status": st.sampled_from(list(Status)),
            "priority": st.integers(0, 32_767),
            "meta": st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
        },
    ),
    st.booleans(),
)
def test_job_records_are_what_saq_writes(fields: dict[str, Any], with_queue: bool) -> None:
    """The queue's own ``Job.to_dict`` (without ``dataclasses.fields`` per call) gives the same
    record as SAQ's for any job."""
    queue = SQLiteQueue.__new__(SQLiteQueue)  # only its name is read
    queue.name = "default"
    job = Job(**{"function": "f", **fields}, queue=queue if with_queue else None)
    assert job_record(job) == job.to_dict()
