"""The job state machine as a pure transition table.

Every status change in the product goes through :func:`transition`, so no code path can move a
job out of a terminal state except the one explicit door: a user's manual retry of a failed or
cancelled job, which starts a new attempt of the same job.

```
             start                 complete
  pending ──────────► running ─────────────► completed
    ▲  │                │  │ fail
    │  │ cancel         │  └──────────────► failed ───┐
    │  ▼                │ cancel                      │ manual retry
    │ cancelled ◄───────┘                             │
    │    │ manual retry                               │
    └────┴──── retry (backoff) / requeue (shutdown, reaped worker) ◄─ running
```
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


class JobAction(StrEnum):
    """What happened to a job. Also the ``eventType`` of its event."""

    SUBMIT = "created"
    START = "started"
    PROGRESS = "progress"
    COMPLETE = "completed"
    FAIL = "failed"
    RETRY = "retry_scheduled"  # a transient failure, another attempt after a backoff
    REQUEUE = "requeued"  # shutdown or a dead worker: back to the queue, no retry spent
    CANCEL = "cancelled"
    MANUAL_RETRY = "retried"  # a user retries a failed or cancelled job


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})

_TABLE: dict[tuple[JobStatus | None, JobAction], JobStatus] = {
    (None, JobAction.SUBMIT): JobStatus.PENDING,
    (JobStatus.PENDING, JobAction.START): JobStatus.RUNNING,
    (JobStatus.PENDING, JobAction.CANCEL): JobStatus.CANCELLED,
    (JobStatus.PENDING, JobAction.REQUEUE): JobStatus.PENDING,
    (JobStatus.RUNNING, JobAction.PROGRESS): JobStatus.RUNNING,
    (JobStatus.RUNNING, JobAction.COMPLETE): JobStatus.COMPLETED,
    (JobStatus.RUNNING, JobAction.FAIL): JobStatus.FAILED,
    (JobStatus.RUNNING, JobAction.RETRY): JobStatus.PENDING,
    (JobStatus.RUNNING, JobAction.REQUEUE): JobStatus.PENDING,
    (JobStatus.RUNNING, JobAction.CANCEL): JobStatus.CANCELLED,
    (JobStatus.FAILED, JobAction.MANUAL_RETRY): JobStatus.PENDING,
    (JobStatus.CANCELLED, JobAction.MANUAL_RETRY): JobStatus.PENDING,
}

# A job that keeps killing its worker is failed by the reaper without ever having run to an end.
_TABLE[(JobStatus.PENDING, JobAction.FAIL)] = JobStatus.FAILED


class InvalidTransition(ValueError):
    """The action is not allowed in the job's current status."""

    def __init__(self, status: JobStatus | None, action: JobAction):
        super().__init__(f"cannot {action.name.lower().replace('_', ' ')} a {status} job")
        self.status = status
        self.action = action


def transition(status: JobStatus | None, action: JobAction) -> JobStatus:
    """The status after ``action`` on a job in ``status`` (``None``: not yet created)."""
    try:
        return _TABLE[(status, action)]
    except KeyError:
        raise InvalidTransition(status, action) from None


def allowed(status: JobStatus | None, action: JobAction) -> bool:
    return (status, action) in _TABLE


def target(action: JobAction) -> JobStatus:
    """The one status ``action`` leads to (from any status it is allowed from)."""
    (status,) = {new for (old, a), new in _TABLE.items() if a is action and old is not None}
    return status


def sources(action: JobAction) -> frozenset[JobStatus]:
    """Statuses from which ``action`` is allowed: the WHERE clause of a compare-and-set."""
    return frozenset(s for (s, a) in _TABLE if a is action and s is not None)
