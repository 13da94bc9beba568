"""The long-lived objects one process builds at start (see app/lifespan.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from saq import Queue

from app.ai.breaker import CircuitBreaker
from app.auth import AuthService
from app.db import Database
from app.entities.service import EntityService
from app.jobs.clock import DatabaseClock
from app.jobs.events import EventBus
from app.jobs.service import JobService
from app.jobs.worker import AppWorker
from app.locks import Locks
from app.loop_monitor import LoopLagMonitor
from app.metrics import Metrics
from app.readiness import DatabaseProbe
from app.settings import Settings
from app.tasks.base import TaskServices


@dataclass
class Container:
    settings: Settings
    db: Database
    queues: dict[str, Queue]
    bus: EventBus
    locks: Locks
    jobs: JobService
    auth: AuthService
    entities: EntityService
    task_services: TaskServices
    clock: DatabaseClock  # the jobs' clock, kept in step with the database server's
    workers: list[AppWorker] = field(default_factory=list)
    # Telemetry (ops-telemetry): this process's metrics and event-loop lag.
    metrics: Metrics = field(default_factory=Metrics)
    loop: LoopLagMonitor = field(default_factory=LoopLagMonitor)
    # The model provider's circuit breaker (None: no model configured, the offline engine runs).
    llm_breaker: CircuitBreaker | None = None
    # What /readyz asks the database (a read and a committed write), made from ``db``.
    database_probe: DatabaseProbe = field(init=False)

    def __post_init__(self) -> None:
        self.database_probe = DatabaseProbe(self.db)
