"""SAQ's logger keeps one control-flow filter however many apps a process builds."""

from __future__ import annotations

import logging

from app.jobs.runner import JobRetry
from app.logging import ExpectedControlFlow, quiet_saq_control_flow


def _record(message: str, error: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(error), error, None) if error is not None else None
    return logging.LogRecord("saq", logging.ERROR, __file__, 1, message, (), exc_info)


def test_every_app_built_shares_one_filter() -> None:
    saq = logging.getLogger("saq")
    for _ in range(3):  # what three apps built in one process (tests, benchmarks) call
        quiet_saq_control_flow()
    ours = [f for f in saq.filters if isinstance(f, ExpectedControlFlow)]
    assert len(ours) == 1


def test_the_filter_drops_control_flow_and_keeps_real_errors() -> None:
    quiet_saq_control_flow()
    saq = logging.getLogger("saq")
    assert not saq.filter(_record("Error processing job", JobRetry("later")))
    assert not saq.filter(_record(ExpectedControlFlow.GRACE_WARNING + ", requesting cancellation"))
    assert saq.filter(_record("Error processing job", ValueError("a bug")))
    assert saq.filter(_record("Worker starting"))
