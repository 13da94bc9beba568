"""Health for platforms and operators: alive, and ready to take work.

``/readyz`` is ready (200) when the database, every queue and the event bus answer, this
process's workers run (modes ``all`` and ``worker``), and the event loop is not lagging: HTTP and
the workers share that loop, so a task that blocks it stalls both, and the process should leave
the load balancer until it recovers (``ATSPRO_READY_MAX_LOOP_LAG_MS``, over the last few seconds).
It also reports, per queue, the depth and how many worker processes are alive across the fleet
(heartbeats SAQ workers write to the queue backend, gone ~11 s after a worker stops); a queue with
no live worker does not make a web process unready: its jobs wait.

``llm`` reports the model provider's circuit breaker (or ``offline`` when no model is configured)
and never makes the process unready: jobs wait, retry or fall back while the provider is down,
and HTTP must stay up.
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
    """Ready to take work: backends reachable, own workers running, event loop responsive."""
    checks: dict[str, Any] = {}
    ok = True
    # Read before the probes' own awaits: what the loop went through before this request ran.
    lag_ms = round(container.loop.lag_s * 1000, 1)

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
    # The Redis subscription that carries other processes' job events (always up in-process).
    listening = container.bus.listening
    checks["events"] = "ok" if listening else "reconnecting"
    ok = ok and listening
    for worker in container.workers:
        checks[f"worker:{worker.name}"] = {"alive": worker.alive, "running": worker.running_count}
        ok = ok and worker.alive
    breaker = container.llm_breaker
    checks["llm"] = (
        {
            "breaker": breaker.state.value,
            "consecutiveFailures": breaker.consecutive_failures,
            "retryAfterS": round(breaker.retry_after_s, 1),
        }
        if breaker is not None
        else "offline"
    )
    max_lag_ms = container.settings.ready_max_loop_lag_ms
    checks["loop"] = {"lagMs": lag_ms, "maxLagMs": max_lag_ms, "ok": lag_ms <= max_lag_ms}
    ok = ok and lag_ms <= max_lag_ms
    status = "ready" if ok else "unavailable"
    return JSONResponse({"status": status, "checks": checks}, status_code=200 if ok else 503)
