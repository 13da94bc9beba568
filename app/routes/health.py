"""Health for platforms and operators: alive, and ready (database, queues, workers).

``/readyz`` also reports, per queue, how many worker processes are alive across the fleet (from
the heartbeats SAQ workers write to the queue backend, gone ~11 s after a worker stops) and whether
live events from other processes arrive. Neither makes a web process unready: with no worker, jobs
wait in the queue; with the event subscription down, streams poll.
"""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.deps import AppContainer

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_S = 3.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive and its event loop answers."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(container: AppContainer) -> JSONResponse:
    """Ready to take work: database and every queue reachable, this process's workers running."""
    checks: dict[str, Any] = {}
    ok = True

    async def database() -> None:
        await container.db.read(lambda c: c.execute(text("SELECT 1")))

    async def queue(name: str) -> None:
        info = await container.queues[name].info()
        checks[f"queue:{name}"] = {
            "queued": info["queued"],
            "active": info["active"],
            "workers": len(info["workers"]),
        }

    probes = [("database", database)] + [
        (f"queue:{name}", lambda name=name: queue(name)) for name in container.queues
    ]
    for name, probe in probes:
        try:
            with anyio.fail_after(CHECK_TIMEOUT_S):
                await probe()
            checks.setdefault(name, "ok")
        except Exception as error:  # a readiness probe reports, it does not raise
            ok = False
            checks[name] = f"error: {type(error).__name__}"
    checks["events"] = "ok" if container.bus.listening else "reconnecting"
    for worker in container.workers:
        alive = worker.ready.is_set() and not worker.draining
        checks[f"worker:{worker.name}"] = {"alive": alive, "running": worker.running_count}
        ok = ok and alive
    status = "ready" if ok else "unavailable"
    return JSONResponse({"status": status, "checks": checks}, status_code=200 if ok else 503)
