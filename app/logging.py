"""Structured logs: stable event names as messages, context as fields; JSON off a terminal.

``bind(job_id=…, attempt=…)`` attaches fields to every line logged inside it (the runner binds a
job's fields once, so whatever a task logs carries them). Never log secrets or file contents.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_bound: ContextVar[dict[str, Any]] = ContextVar("atspro_log_fields", default={})  # noqa: B039


class bind:  # noqa: N801 (used as a function: ``with bind(job_id=…):``)
    """Fields for every line logged inside the ``with``. A class, not ``@contextmanager``: the
    runner enters one per job, and the generator's machinery was half of its 6 µs."""

    __slots__ = ("_fields", "_token")

    def __init__(self, **fields: Any) -> None:
        self._fields = fields

    def __enter__(self) -> None:
        self._token = _bound.set({**_bound.get(), **self._fields})

    def __exit__(self, *exc_info: object) -> None:
        _bound.reset(self._token)


class ContextFilter(logging.Filter):
    """Adds the bound fields to each record (without overriding explicit ``extra``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _bound.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class ExpectedControlFlow(logging.Filter):
    """SAQ logs every exception a job raises with a traceback. Ours that only steer SAQ (retry
    later, failed for good, back to the queue) are logged by the runner as events instead. Its
    grace-period warning is ours to give too: our drain has already waited (``worker.drain``)."""

    GRACE_WARNING = "Some tasks did not finish within the shutdown grace period"

    def __init__(self, *names: str) -> None:
        super().__init__()
        self.names = names

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[0] is not None:
            return record.exc_info[0].__name__ not in self.names
        return not str(record.msg).startswith(self.GRACE_WARNING)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in _STANDARD)
        line = f"{record.levelname:<7} {record.name}: {record.getMessage()} {fields}".rstrip()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TextFormatter() if sys.stderr.isatty() else JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


_CONTROL_FLOW = ExpectedControlFlow(
    "JobRetry", "JobFailed", "JobDeferred", "WorkerDraining", "StoreUnavailable"
)


def quiet_saq_control_flow() -> None:
    """Called by every app built: one shared filter, which ``addFilter`` adds only once (a new
    one per app grew SAQ's logger by a filter per app a process built: tests, benchmarks)."""
    logging.getLogger("saq").addFilter(_CONTROL_FLOW)
