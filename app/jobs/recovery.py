"""Periodic recovery: the reaper (lost workers) and the reconciler (jobs missing from a queue).

Every worker-running process runs :func:`run_recovery`, but only the holder of the recovery lock
does the work: with Redis locks that is one process across the fleet, which keeps the lock (renewed)
for as long as it lives. The others try again every reaper interval, so when the leader dies its
lease runs out (``lease_s``) and another process takes over; when it stops cleanly it releases the
lock and the next try succeeds at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio

from app.jobs.service import JobService
from app.locks import Lease, Locks

log = logging.getLogger("atspro.recovery")

LOCK = "atspro:recovery"


async def run_recovery(service: JobService, locks: Locks) -> None:
    """Forever: while this process holds the recovery lock, reap every ``reaper_interval_s`` and
    reconcile every ``reconcile_interval_s``; otherwise wait to take over."""
    while True:
        async with locks.singleton(LOCK) as lease:
            if lease:
                await _lead(service, lease)
        await anyio.sleep(service.settings.reaper_interval_s)


async def _lead(service: JobService, lease: Lease) -> None:
    """Until the lease is lost. The reconciler runs at once, so jobs accepted just before a crash
    are enqueued."""
    settings = service.settings
    log.info("recovery.leading", extra={"fence": lease.fence})
    next_reconcile = 0.0
    while lease:
        now = anyio.current_time()
        await _guarded(lease, "reaper", service.reap_expired)
        if now >= next_reconcile and lease:
            await _guarded(lease, "reconciler", service.reconcile)
            next_reconcile = now + settings.reconcile_interval_s
        await anyio.sleep(settings.reaper_interval_s)


async def _guarded(lease: Lease, task: str, work: Callable[[], Awaitable[int]]) -> None:
    try:
        count = await work()
    except Exception:
        log.exception("recovery.failed", extra={"task": task})
        return
    if count:
        log.info("recovery.done", extra={"task": task, "count": count, "fence": lease.fence})
