"""``/metrics``: this process's Prometheus metrics (optionally behind ``ATSPRO_METRICS_TOKEN``).

Counters are this process's own (in split mode, scrape every process); queue depths are read from
the shared queue backend at scrape time, so any process reports the fleet's backlog.
"""

from __future__ import annotations

import hmac

import anyio
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.deps import AppContainer
from app.errors import Unauthorized

router = APIRouter(tags=["health"])

QUEUE_TIMEOUT_S = 2.0


@router.get("/metrics", response_class=Response)
async def metrics(request: Request, container: AppContainer) -> Response:
    """Prometheus text exposition."""
    token = container.settings.metrics_token
    if token is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        expected = token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            raise Unauthorized("/metrics needs `Authorization: Bearer <ATSPRO_METRICS_TOKEN>`")
    counts: dict[str, tuple[int, int]] = {}
    for name, queue in container.queues.items():
        # A queue backend that is down leaves its gauges at their last value; the scrape works.
        with anyio.move_on_after(QUEUE_TIMEOUT_S):
            try:
                counts[name] = (await queue.count("queued"), await queue.count("active"))
            except Exception:  # noqa: S112 (reported by /readyz, not by a failed scrape)
                continue
    collected = container.metrics
    collected.running_jobs.set(sum(worker.running_count for worker in container.workers))
    collected.loop_lag.set(container.loop.lag_s)
    breaker = container.llm_breaker
    collected.llm_breaker.set(breaker.state.level if breaker is not None else 0)
    return Response(collected.render(counts), media_type=CONTENT_TYPE_LATEST)
