"""RunningJobs and its AttemptScope: a deadline or a cancel stops the attempt's code and is caught
by its scope; every other cancel of the task goes on up."""

from __future__ import annotations

import asyncio
import math
import uuid

import anyio
import pytest

from app.jobs.running import AttemptScope, RunningJobs

pytestmark = pytest.mark.anyio


def _now() -> float:
    return asyncio.get_running_loop().time()


async def test_the_deadline_stops_the_code_and_says_so() -> None:
    jobs, job_id = RunningJobs(), uuid.uuid4()
    reached = False
    async with jobs.track(job_id, 1, deadline=_now() + 0.05) as scope:
        assert jobs.attempts() == [(job_id, 1)]
        await asyncio.sleep(30)
        reached = True
    assert not reached
    assert scope.cancelled_caught
    assert scope.timed_out
    assert jobs.attempts() == []
    assert len(jobs) == 0
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_a_cancel_stops_the_code_of_that_attempt_only() -> None:
    jobs, job_id = RunningJobs(), uuid.uuid4()

    async def attempt() -> tuple[bool, bool]:
        async with jobs.track(job_id, 2) as scope:
            await asyncio.sleep(30)
        return scope.cancelled_caught, scope.timed_out

    task = asyncio.create_task(attempt())
    await asyncio.sleep(0)
    assert not jobs.cancel(job_id, attempt=1)  # another attempt: left alone
    assert not jobs.cancel(uuid.uuid4())
    assert jobs.cancel(job_id, attempt=2)
    jobs.cancel(job_id)  # twice: both delivered, both the scope's own
    assert await asyncio.wait_for(task, 5) == (True, False)
    assert not jobs.cancel(job_id)  # gone once it ended


async def test_a_cancel_from_elsewhere_goes_on_up() -> None:
    """A worker shutting down cancels the job's task: the scope must not swallow it, even when
    its own cancel came at the same moment."""
    jobs = RunningJobs()
    scopes = []

    async def attempt(job_id: uuid.UUID) -> None:
        async with jobs.track(job_id, 1) as scope:
            scopes.append(scope)
            await asyncio.sleep(30)

    alone, both = uuid.uuid4(), uuid.uuid4()
    tasks = [asyncio.create_task(attempt(alone)), asyncio.create_task(attempt(both))]
    await asyncio.sleep(0)
    tasks[0].cancel()
    jobs.cancel(both)
    tasks[1].cancel()
    for task in tasks:
        with pytest.raises(asyncio.CancelledError):
            await task
    assert [scope.cancelled_caught for scope in scopes] == [False, False]
    assert len(jobs) == 0


async def test_code_that_returns_on_its_own_keeps_its_result() -> None:
    jobs, job_id = RunningJobs(), uuid.uuid4()
    async with jobs.track(job_id, 1, deadline=_now() + 30) as scope:
        result = 42
    jobs.cancel(job_id)
    scope.cancel()  # after the scope: nothing to stop
    await asyncio.sleep(0)  # and no cancel left pending for this task
    assert (result, scope.cancelled_caught, scope.timed_out) == (42, False, False)

    async with jobs.track(job_id, 2, deadline=_now() + 0.01) as swallowing:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            result = 43  # delivered once, as asyncio.timeout: code that swallows it runs on
    assert (result, swallowing.cancelled_caught, swallowing.timed_out) == (43, False, False)


async def test_code_that_swallows_a_cancel_gets_it_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """As anyio's scope kept cancelling: the deadline comes again every REDELIVER_S, and every
    further cancel (the lease keeper's, a progress report's) delivers another."""
    monkeypatch.setattr(AttemptScope, "REDELIVER_S", 0.02)
    jobs, swallowed = RunningJobs(), 0

    async def stubborn(job_id: uuid.UUID, deadline: float) -> AttemptScope:
        nonlocal swallowed
        async with jobs.track(job_id, 1, deadline=deadline) as scope:
            for _ in range(2):
                try:
                    await asyncio.sleep(30)
                except asyncio.CancelledError:
                    swallowed += 1
            await asyncio.sleep(30)
        return scope

    timed = await asyncio.wait_for(stubborn(uuid.uuid4(), _now() + 0.01), 5)
    assert (swallowed, timed.cancelled_caught, timed.timed_out) == (2, True, True)

    job_id = uuid.uuid4()
    task = asyncio.create_task(stubborn(job_id, math.inf))
    for _ in range(3):
        await asyncio.sleep(0.01)
        jobs.cancel(job_id)
    cancelled = await asyncio.wait_for(task, 5)
    assert (swallowed, cancelled.cancelled_caught, cancelled.timed_out) == (4, True, False)
    assert task.cancelling() == 0


async def test_anyio_code_inside_is_stopped_and_its_shielded_cleanup_runs() -> None:
    """Tasks use anyio (httpx, the Agents SDK): their task groups are cancelled too, and a
    shielded step (a token meter storing what was used) still runs to its end."""
    jobs, job_id = RunningJobs(), uuid.uuid4()
    children_stopped, cleaned = 0, False

    async def child() -> None:
        nonlocal children_stopped
        try:
            await anyio.sleep(30)
        except anyio.get_cancelled_exc_class():
            children_stopped += 1
            raise

    async with jobs.track(job_id, 1, deadline=_now() + 0.05) as scope:
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(child)
                group.start_soon(child)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.sleep(0.01)
                cleaned = True
    assert scope.cancelled_caught
    assert scope.timed_out
    assert (children_stopped, cleaned) == (2, True)


async def test_no_deadline_means_no_timer() -> None:
    jobs, job_id = RunningJobs(), uuid.uuid4()
    async with jobs.track(job_id, 1) as scope:
        assert scope.deadline == math.inf
        await asyncio.sleep(0.01)
    assert not scope.cancelled_caught
