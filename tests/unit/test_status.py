"""The transition table: properties that must always hold."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.jobs.status import (
    TERMINAL,
    InvalidTransition,
    JobAction,
    JobStatus,
    allowed,
    sources,
    transition,
)

statuses = st.sampled_from(list(JobStatus))
actions = st.sampled_from(list(JobAction))


@given(statuses, actions)
def test_only_a_manual_retry_leaves_a_terminal_state(status: JobStatus, action: JobAction) -> None:
    """No action but a user's manual retry moves a job out of completed, failed or cancelled."""
    if status in TERMINAL and action is not JobAction.MANUAL_RETRY:
        assert not allowed(status, action)
        with pytest.raises(InvalidTransition):
            transition(status, action)


def test_completed_is_final() -> None:
    """A completed job accepts no action at all, not even a retry."""
    assert all(not allowed(JobStatus.COMPLETED, action) for action in JobAction)


@given(st.lists(actions, max_size=50))
def test_any_sequence_of_allowed_actions_stays_in_the_table(sequence: list[JobAction]) -> None:
    """Applying only allowed actions always yields a known status; refused ones change nothing."""
    status = transition(None, JobAction.SUBMIT)
    for action in sequence:
        if allowed(status, action):
            status = transition(status, action)
        else:
            with pytest.raises(InvalidTransition):
                transition(status, action)
        assert status in set(JobStatus)


@given(
    st.lists(st.sampled_from([JobAction.START, JobAction.RETRY, JobAction.REQUEUE]), max_size=30)
)
def test_a_job_can_always_still_reach_a_terminal_state(sequence: list[JobAction]) -> None:
    """From any status reached by starts and retries, cancel or complete ends the job."""
    status = transition(None, JobAction.SUBMIT)
    for action in sequence:
        if allowed(status, action):
            status = transition(status, action)
    assert status in {JobStatus.PENDING, JobStatus.RUNNING}
    assert transition(status, JobAction.CANCEL) is JobStatus.CANCELLED


def test_sources_name_the_compare_and_set_statuses() -> None:
    """The statuses a worker may complete from are exactly running."""
    assert sources(JobAction.COMPLETE) == {JobStatus.RUNNING}
    assert sources(JobAction.CANCEL) == {JobStatus.PENDING, JobStatus.RUNNING}
    assert sources(JobAction.MANUAL_RETRY) == {JobStatus.FAILED, JobStatus.CANCELLED}


def test_a_job_is_created_pending_only_once() -> None:
    """Submit only applies to a job that does not exist yet."""
    assert transition(None, JobAction.SUBMIT) is JobStatus.PENDING
    for status in JobStatus:
        assert not allowed(status, JobAction.SUBMIT)
