"""Retention: finished jobs older than their status's retention are deleted, once across the fleet.

What goes with a job: its events, its entity associations and its queue entry (whatever the
backend: the SQLite queue, Redis or PostgreSQL). What stays: the resumes, postings and
optimizations it made, which the user still owns. Work is done in bounded batches (one short
transaction each), queue entries first: if the row delete then fails, the next pass finds the rows
again and finishes the job.

The same pass deletes token usage rows (app/budget.py) of UTC days more than
``retain_token_usage_days`` before today, in batches of the same size: the budget reads only
today's row, so they are kept only as a record.

:func:`run_cleanup` runs in every worker-running process, but only the holder of the cleanup lock
works (the pattern of ``app/jobs/recovery.py``): with Redis locks one process in the fleet, which
keeps the lock while it lives and cleans every ``cleanup_interval_s``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
from saq import Queue
from saq.job import TERMINAL_STATUSES, Status

from app import budget
from app.db import Database, utcnow
from app.jobs import store
from app.jobs.status import JobStatus
from app.locks import Lease
from app.metrics import Metrics
from app.settings import Settings

if TYPE_CHECKING:
    from app.container import Container

log = logging.getLogger("atspro.cleanup")

LOCK = "atspro:cleanup"
DAY = timedelta(days=1)


@dataclass
class CleanupReport:
    """What a pass deleted (or, in a dry run, would delete)."""

    dry_run: bool
    cutoffs: dict[str, datetime] = field(default_factory=dict)
    jobs: dict[str, int] = field(default_factory=dict)
    events: int = 0
    associations: int = 0
    queue_entries: int = 0
    usage_before: date | None = None  # None: token usage is kept forever
    usage_rows: int = 0

    @property
    def total_jobs(self) -> int:
        return sum(self.jobs.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "dryRun": self.dry_run,
            "finishedBefore": {status: cut.isoformat() for status, cut in self.cutoffs.items()},
            "jobs": self.jobs,
            "events": self.events,
            "associations": self.associations,
            "queueEntries": self.queue_entries,
            "tokenUsage": {
                "before": self.usage_before.isoformat() if self.usage_before else None,
                "rows": self.usage_rows,
            },
        }


def retention(settings: Settings) -> dict[JobStatus, timedelta]:
    """Retention per terminal status; a status with 0 days is kept forever (left out)."""
    days = {
        JobStatus.COMPLETED: settings.retain_completed_days,
        JobStatus.FAILED: settings.retain_failed_days,
        JobStatus.CANCELLED: settings.retain_cancelled_days,
    }
    return {status: DAY * value for status, value in days.items() if value > 0}


class Cleaner:
    def __init__(
        self,
        *,
        db: Database,
        queues: Mapping[str, Queue],
        settings: Settings,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.queues = queues
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.clock = clock

    async def run(self, *, dry_run: bool = False) -> CleanupReport:
        """One pass: every terminal status, then token usage."""
        now = self.clock()
        report = CleanupReport(dry_run=dry_run)
        for status, keep in retention(self.settings).items():
            before = now - keep
            report.cutoffs[status.value] = before
            report.jobs[status.value] = await self._status(status, before, report)
        if self.settings.retain_token_usage_days > 0:
            report.usage_before = now.date() - DAY * self.settings.retain_token_usage_days
            report.usage_rows = await self._token_usage(report.usage_before, dry_run=dry_run)
        if not dry_run:
            self.metrics.cleanup_runs.inc()
            for status_name, count in report.jobs.items():
                if count:
                    self.metrics.cleanup_deleted.labels(status_name).inc(count)
        return report

    async def _status(self, status: JobStatus, before: datetime, report: CleanupReport) -> int:
        after_id: uuid.UUID | None = None
        total = 0
        while True:
            batch = await self.db.read(
                partial(
                    store.finished_before,
                    status=status,
                    before=before,
                    after_id=after_id,
                    limit=self.settings.cleanup_batch_size,
                )
            )
            if not batch:
                return total
            after_id = batch[-1].id
            if report.dry_run:
                ids = [row.id for row in batch]
                found = await self.db.read(partial(store.dependents, job_ids=ids))
                report.queue_entries += await self._queue_entries(batch, purge=False)
            else:
                report.queue_entries += await self._queue_entries(batch, purge=True)
                found = await self.db.write(
                    partial(_delete, batch=batch, status=status, before=before)
                )
            report.events += found["events"]
            report.associations += found["associations"]
            total += found.get("jobs", len(batch))

    async def _token_usage(self, before: date, *, dry_run: bool) -> int:
        if dry_run:
            return await self.db.read(partial(budget.usage_before, day=before))
        limit = self.settings.cleanup_batch_size
        total = 0
        while True:
            count = await self.db.write(
                partial(budget.forget_usage_before, day=before, limit=limit)
            )
            total += count
            if count < limit:
                return total

    async def _queue_entries(self, batch: Sequence[Any], *, purge: bool) -> int:
        """Count (and with ``purge``, delete) the batch's entries in their queues. SAQ offers no
        delete, but a finish with a negative TTL removes the record on every backend."""
        count = 0
        for name, queue in self.queues.items():
            keys = [str(row.id) for row in batch if row.queue == name]
            if not keys:
                continue
            for saq_job in await queue.jobs(keys):
                if saq_job is None:
                    continue
                count += 1
                if purge:
                    final = saq_job.status if saq_job.status in TERMINAL_STATUSES else None
                    saq_job.ttl = -1
                    await queue.finish(saq_job, final or Status.ABORTED, error="retention cleanup")
        return count


def _delete(
    connection: Any, *, batch: Sequence[Any], status: JobStatus, before: datetime
) -> dict[str, int]:
    due = store.still_finished_before(connection, [row.id for row in batch], status, before)
    return store.delete_jobs(connection, due)


async def run_cleanup(container: Container) -> None:
    """Forever: while this process holds the cleanup lock, clean every ``cleanup_interval_s``
    (the first pass at once); otherwise try to take over every lease period."""
    settings = container.settings
    cleaner = Cleaner(
        db=container.db, queues=container.queues, settings=settings, metrics=container.metrics
    )
    while True:
        async with container.locks.singleton(LOCK) as lease:
            if lease:
                await _lead(cleaner, lease, settings.cleanup_interval_s)
        await anyio.sleep(settings.lease_s)


async def _lead(cleaner: Cleaner, lease: Lease, interval_s: float) -> None:
    log.info("cleanup.leading", extra={"fence": lease.fence})
    while lease:
        try:
            report = await cleaner.run()
        except Exception:
            log.exception("cleanup.failed")
        else:
            if report.total_jobs or report.queue_entries or report.usage_rows:
                log.info("cleanup.done", extra={**report.as_dict(), "fence": lease.fence})
        await anyio.sleep(interval_s)
