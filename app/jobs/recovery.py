"""Periodic recovery: the reaper (lost workers) and the reconciler (jobs missing from a queue).

Both run in every worker-running process, but only the holder of the named lock does the work.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio

from app.jobs.service import JobService
from app.locks import Locks

log = logging.getLogger("atspro.recovery")


async def run_recovery(service: JobService, locks: Locks) -> None:
    """Forever: reap every ``reaper_interval_s``, reconcile every ``reconcile_interval_s``.

    The reconciler runs once at start too, so jobs accepted just before a crash are enqueued.
    """
    settings = service.settings
    next_reconcile = 0.0
    while True:
        now = anyio.current_time()
        await _guarded(locks, "atspro:reaper", service.reap_expired)
        if now >= next_reconcile:
            await _guarded(locks, "atspro:reconciler", service.reconcile)
            next_reconcile = now + settings.reconcile_interval_s
        await anyio.sleep(settings.reaper_interval_s)


async def _guarded(locks: Locks, name: str, work: Callable[[], Awaitable[int]]) -> None:
    async with locks.singleton(name) as held:
        if not held:
            return
        try:
            count = await work()
        except Exception:
            log.exception("recovery.failed", extra={"task": name})
            return
        if count:
            log.info("recovery.done", extra={"task": name, "count": count})
