"""Prometheus metrics of one process, in a registry of its own.

Each app (and each CLI container) owns a :class:`Metrics` with its own ``CollectorRegistry``, so
tests that build many apps in one process never hit prometheus_client's duplicate-registration
error, and in split mode every process exposes exactly its own counters. Counters and histograms
move where things happen (``JobService`` transitions, the SSE route, the HTTP middleware); gauges
that describe shared state (queue depth) are read when ``/metrics`` is scraped.

The hooks sit on the job hot path, so each is a dictionary lookup and an increment: label children
are cached per job type instead of going through ``labels()`` (a lock and a tuple build) each time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Seconds. Jobs range from a diagnostic echo (ms) to AI calls (minutes).
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, float("inf"))
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, float("inf"))
JOB_OUTCOMES = ("submitted", "completed", "failed", "retried", "cancelled")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self._jobs = {
            outcome: Counter(
                f"atspro_jobs_{outcome}",
                f"Jobs {outcome} by this process",
                ["job_type"],
                registry=registry,
            )
            for outcome in JOB_OUTCOMES
        }
        self.job_duration = Histogram(
            "atspro_job_duration_seconds",
            "Run time of a finished attempt, from its start to completed or failed",
            ["job_type", "status"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.queue_wait = Histogram(
            "atspro_job_queue_wait_seconds",
            "Time a job waited before its first attempt started",
            ["job_type"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.queue_depth = Gauge(
            "atspro_queue_depth",
            "Jobs waiting in each queue (read when scraped)",
            ["queue"],
            registry=registry,
        )
        self.queue_active = Gauge(
            "atspro_queue_active",
            "Jobs claimed by a worker in each queue, fleet-wide (read when scraped)",
            ["queue"],
            registry=registry,
        )
        self.running_jobs = Gauge(
            "atspro_running_jobs", "Jobs running in this process's workers", registry=registry
        )
        self.sse_clients = Gauge(
            "atspro_sse_clients", "Event streams open on this process", registry=registry
        )
        self.loop_lag = Gauge(
            "atspro_event_loop_lag_seconds",
            "Largest recent event-loop lag (the loop is shared by HTTP and workers)",
            registry=registry,
        )
        self.http_duration = Histogram(
            "atspro_http_request_duration_seconds",
            "HTTP request duration by route template (event streams excluded)",
            ["method", "route", "status"],
            buckets=HTTP_BUCKETS,
            registry=registry,
        )
        self.llm_breaker = Gauge(
            "atspro_llm_breaker_state",
            "The model provider's circuit breaker in this process: 0 closed (or no model "
            "configured), 1 half-open, 2 open (read when scraped)",
            registry=registry,
        )
        self.cleanup_runs = Counter(
            "atspro_cleanup_runs", "Cleanup passes run by this process", registry=registry
        )
        self.cleanup_deleted = Counter(
            "atspro_cleanup_deleted_jobs",
            "Finished jobs deleted by retention",
            ["status"],
            registry=registry,
        )
        self._children: dict[tuple[str, ...], Any] = {}

    def _child(self, name: str, metric: Any, *labels: str) -> Any:
        """The labelled child of ``metric``, cached (``labels()`` takes a lock every call)."""
        key = (name, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def job(self, outcome: str, job_type: str) -> None:
        """Count a job ``outcome`` (one of ``JOB_OUTCOMES``) for ``job_type``."""
        self._child(outcome, self._jobs[outcome], job_type).inc()

    def count(self, outcome: str, job_type: str) -> int:
        """How many ``job_type`` jobs this process has counted as ``outcome`` (one of
        ``JOB_OUTCOMES``) since it started."""
        return sum(
            int(sample.value)
            for metric in self._jobs[outcome].collect()
            for sample in metric.samples
            if sample.name.endswith("_total") and sample.labels.get("job_type") == job_type
        )

    def finished(self, job_type: str, status: str, started: datetime | None, now: datetime) -> None:
        """An attempt ended (completed or failed): count it and observe its run time."""
        self.job(status, job_type)
        if started is not None:
            duration = self._child("duration", self.job_duration, job_type, status)
            duration.observe((now - started).total_seconds())

    def started(self, job_type: str, attempt: int, created: datetime, now: datetime) -> None:
        """A job's first attempt began: observe how long it waited for a worker."""
        if attempt == 1:
            wait = self._child("wait", self.queue_wait, job_type)
            wait.observe(max(0.0, (now - created).total_seconds()))

    def render(self, queue_counts: Mapping[str, tuple[int, int]]) -> bytes:
        """The text exposition, after setting the scrape-time gauges (queued, active)."""
        for name, (queued, active) in queue_counts.items():
            self.queue_depth.labels(name).set(queued)
            self.queue_active.labels(name).set(active)
        return generate_latest(self.registry)
