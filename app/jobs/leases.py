"""LeaseKeeper: renews the lease of every job this process runs, in one write per interval.

A running job holds a lease (``lease_expires_at``); the recovery leader reaps a job whose lease
ran out (its worker died). Renewing each job on its own timer cost a task per job and a write
per job per interval; one keeper per process renews them all together, so a hundred long jobs
cost one small write every ``lease_s / 3``. A job whose attempt was cancelled or taken over
meanwhile is not renewed, and its task is cancelled here (at its next await).
"""

from __future__ import annotations

import logging

import anyio

from app.jobs.service import JobService

log = logging.getLogger("atspro.jobs")


class LeaseKeeper:
    def __init__(self, service: JobService) -> None:
        self.service = service

    async def run(self) -> None:
        interval = self.service.settings.lease_s / 3
        while True:
            await anyio.sleep(interval)
            await self.renew()

    async def renew(self) -> None:
        running = self.service.running.attempts()
        if not running:
            return
        try:
            kept = await self.service.renew_leases(running)
        except Exception:
            # The database is away: try again next interval. Leases that run out meanwhile
            # are the recovery leader's to judge, as for a worker that died.
            log.warning("lease.renew_failed", exc_info=True)
            return
        for job_id, attempt in running:
            if (job_id, attempt) not in kept:
                self.service.running.cancel(job_id, attempt)
