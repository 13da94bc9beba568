"""Health for platforms and operators: alive, and ready to take work.

``/readyz`` is ready (200) when the database answers a read and takes a write (``database`` and
``database:write``, app/readiness.py: a full disk or a database that refuses writes leaves reads
working, but not submits), every queue and the event bus answer, this process's workers run
(modes ``all`` and ``worker``), and the event loop is not lagging: HTTP and the workers share that
loop, so a task that blocks it stalls both, and the process should leave the load balancer until
it recovers (``ATSPRO_READY_MAX_LOOP_LAG_MS``, over the last few seconds).
It also reports, per queue, the depth and how many worker processes are alive across the fleet
(heartbeats SAQ workers write to the queue backend, gone ~11 s after a worker stops); a queue with
no live worker does not make a web process unready: its jobs wait.

``llm`` reports the model provider's circuit breaker (or ``offline`` when no model is configured)
and never makes the process unready: jobs wait, retry or fall back while the provider is down,
and HTTP must stay up.

The backend probes run at the same time, each bounded by ``CHECK_TIMEOUT_S``, so an answer takes
about that long at worst. ``failed`` lists the checks that made the process unready.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import anyio
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.deps import AppContainer

log = logging.getLogger("atspro.health")
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
    failed: list[str] = []
    # Read before the probes' own awaits: what the loop went through before this request ran.
    lag_ms = round(container.loop.lag_s * 1000, 1)

    async def queue(name: str) -> dict[str, int]:
        info = await container.queues[name].info()
        return {"queued": info["queued"], "active": info["active"], "workers": len(info["workers"])}

    database = container.database_probe
    probes: dict[str, Callable[[], Awaitable[Any]]] = {
        "database": database.read,
        "database:write": database.write,
    }
    probes.update({f"queue:{name}": partial(queue, name) for name in container.queues})
    answers: dict[str, Any] = {}
    broken: set[str] = set()

    async def run(name: str, probe: Callable[[], Awaitable[Any]]) -> None:
        try:
            with anyio.fail_after(CHECK_TIMEOUT_S):
                answers[name] = await probe() or "ok"
        except Exception as error:  # a readiness probe reports, it does not raise
            answers[name] = f"error: {type(error).__name__}"
            broken.add(name)
            detail = f"{type(error).__name__}: {error}"
            log.warning("ready.check_failed", extra={"check": name, "error": detail})

    async with anyio.create_task_group() as probing:
        for name, probe in probes.items():
            probing.start_soon(run, name, probe)
    checks.update((name, answers[name]) for name in probes)
    failed.extend(name for name in probes if name in broken)
    # The Redis subscription that carries other processes' job events (always up in-process).
    listening = container.bus.listening
    checks["events"] = "ok" if listening else "reconnecting"
    if not listening:
        failed.append("events")
    for worker in container.workers:
        checks[f"worker:{worker.name}"] = {"alive": worker.alive, "running": worker.running_count}
        if not worker.alive:
            failed.append(f"worker:{worker.name}")
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
    if lag_ms > max_lag_ms:
        failed.append("loop")
    status = "unavailable" if failed else "ready"
    return JSONResponse(
        {"status": status, "failed": failed, "checks": checks},
        status_code=503 if failed else 200,
    )
