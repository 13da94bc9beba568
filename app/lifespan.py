"""The composition root: builds every long-lived object and runs the workers.

Start: check the topology, migrate (SQLite), database, queues, event bus (Redis pub/sub when
``REDIS_URL`` is set, listening in the background), locks, services; then, unless this is a
web-only process, one SAQ worker per queue and the recovery loop, all in one anyio task group on
the HTTP event loop. Stop: open SSE streams end, workers drain (running jobs get the grace period,
the rest go back to the queue without spending a retry), then connections close.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from app.ai.breaker import CircuitBreaker
from app.ai.engine import make_engine
from app.auth import AuthService
from app.budget import TokenBudget
from app.container import Container
from app.db import make_database
from app.documents import Limits
from app.entities.service import EntityService
from app.fetch import Fetcher, parse_allow_hosts
from app.jobs.batch_worker import BatchWorker
from app.jobs.cleanup import run_cleanup
from app.jobs.clock import DatabaseClock
from app.jobs.events import make_bus
from app.jobs.leases import LeaseKeeper
from app.jobs.recovery import run_recovery
from app.jobs.runner import JobRunner
from app.jobs.service import QUEUE_NAMES, JobService
from app.jobs.worker import AppWorker, worker_id
from app.locks import make_locks
from app.logging import quiet_saq_control_flow
from app.metrics import Metrics
from app.migrate import upgrade
from app.queues.sqlite import SQLiteQueue
from app.settings import Mode, Settings
from app.tasks.base import TaskServices
from app.tasks.registry import TaskRegistry
from app.topology import check_topology

log = logging.getLogger("atspro.lifespan")


@asynccontextmanager
async def build(settings: Settings, metrics: Metrics | None = None) -> AsyncIterator[Container]:
    """Everything a process needs, without workers (also used by the CLI)."""
    metrics = metrics or Metrics()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.resolved_secret_key()
    if settings.should_migrate_on_start:
        await anyio.to_thread.run_sync(upgrade, settings.resolved_database_url)
    from app.queues import make_queue  # backends import their drivers lazily

    db = make_database(settings.resolved_database_url)
    queues = {name: make_queue(settings.resolved_queue_url, name) for name in QUEUE_NAMES}
    bus = make_bus(settings.redis_url)
    locks = make_locks(settings.redis_url, ttl_s=settings.lease_s)
    try:
        for queue in queues.values():
            await queue.connect()
        clock = DatabaseClock(db)
        await clock.sync()
        budget = TokenBudget(db, daily_tokens=settings.user_daily_tokens, clock=clock)
        jobs = JobService(
            db=db,
            queues=queues,
            bus=bus,
            registry=TaskRegistry.load(settings.extra_tasks),
            settings=settings,
            metrics=metrics,
            clock=clock,
            budget=budget,
        )
        ai_config = settings.ai_config()
        # One breaker per process, kept here so /metrics and /readyz can show its state.
        breaker = (
            CircuitBreaker(ai_config.breaker_failures, ai_config.breaker_open_s)
            if ai_config.uses_model
            else None
        )
        ai = make_engine(ai_config, breaker=breaker)
        if ai_config.uses_model:
            # The SDK's import takes seconds of CPU: pay it now, on a thread, not in the first
            # job, where it held the event loop (and so every request) for ~2 s.
            await anyio.to_thread.run_sync(importlib.import_module, "agents")
        fetcher = Fetcher(allow_hosts=parse_allow_hosts(settings.fetch_allow_hosts))
        # A plain asyncio task, not a task group: an error in the caller's block (a CLI command's
        # AppError, say) must come out as itself, not wrapped in an ExceptionGroup.
        listener = asyncio.create_task(bus.run(), name="events")
        try:
            yield Container(
                settings=settings,
                db=db,
                queues=queues,
                bus=bus,
                locks=locks,
                jobs=jobs,
                auth=AuthService(db),
                entities=EntityService(db),
                task_services=TaskServices(
                    db=db,
                    ai=ai,
                    fetcher=fetcher,
                    document_limits=Limits(max_upload_bytes=settings.max_upload_bytes),
                    budget=budget,
                ),
                metrics=metrics,
                clock=clock,
                llm_breaker=breaker,
            )
        finally:
            listener.cancel()
            with anyio.CancelScope(shield=True):
                await asyncio.gather(listener, return_exceptions=True)
    finally:
        with anyio.CancelScope(shield=True):
            if "jobs" in locals():
                await jobs.aclose()
            if "fetcher" in locals():
                await fetcher.aclose()
                await ai.aclose()
            for queue in queues.values():
                await queue.disconnect()
            await bus.aclose()
            await locks.aclose()
            await db.close()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    for warning in check_topology(settings):
        log.warning("topology.warning", extra={"detail": warning})
    async with (
        build(settings, getattr(app.state, "metrics", None)) as container,
        anyio.create_task_group() as tasks,
    ):
        app.state.container = container
        _freeze_start_up_objects()
        tasks.start_soon(container.loop.run)
        tasks.start_soon(container.clock.run)
        if settings.mode in (Mode.ALL, Mode.WORKER):
            await _start_workers(container, tasks)
            tasks.start_soon(LeaseKeeper(container.jobs).run)
            tasks.start_soon(run_recovery, container.jobs, container.locks)
            tasks.start_soon(run_cleanup, container)
        log.info("app.started", extra={"mode": settings.mode.value})
        try:
            yield
        finally:
            container.bus.close()
            with anyio.CancelScope(shield=True):
                async with anyio.create_task_group() as draining:
                    for worker in container.workers:
                        draining.start_soon(worker.drain, settings.shutdown_grace_s)
            tasks.cancel_scope.cancel()
            gc.unfreeze()  # what start-up built may be collected again (tests run many apps)
            log.info("app.stopped")


def _freeze_start_up_objects() -> None:
    """Keep what start-up built (modules, the app, its services: hundreds of thousands of
    objects that live as long as the process) out of the garbage collector's full passes.

    Python's oldest generation is collected whenever it has grown by a quarter, and each pass
    walks every object in it: with the app loaded one such pass took 60 ms here, a stall of the
    event loop in the middle of serving (bench/PROFILE.md). Frozen objects are never walked;
    garbage made later is collected as usual. ``gc.freeze`` is what CPython's own documentation
    suggests for long-lived start-up state."""
    gc.collect()
    gc.freeze()


async def _start_workers(container: Container, tasks: anyio.abc.TaskGroup) -> None:
    settings = container.settings
    quiet_saq_control_flow()
    for name, queue in container.queues.items():
        if name not in settings.worker_queues:
            continue
        runner = JobRunner(
            container.jobs, worker_id=worker_id(name), services=container.task_services
        )
        kind = BatchWorker if isinstance(queue, SQLiteQueue) else AppWorker
        worker = kind(name, queue, runner, concurrency=settings.concurrency(name))
        container.workers.append(worker)
        tasks.start_soon(worker.run)
    with anyio.fail_after(30):
        for worker in container.workers:
            await worker.ready.wait()
