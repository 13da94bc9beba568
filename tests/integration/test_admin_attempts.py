"""Per-attempt history written by the job service itself, on SQLite and PostgreSQL: a row for each
attempt that did not complete, written by the change that ends it, the current attempt read from
the job's row, and secrets kept out of messages and tracebacks."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from app.container import Container
from app.errors import ErrorKind
from app.jobs import attempts
from app.jobs.attempts import Outcome
from app.jobs.service import Deferred
from app.lifespan import build
from app.models import BackgroundJob, JobAttempt
from app.settings import Settings

SECRET_DETAIL = """Traceback (most recent call last):
  File "task.py", line 3, in run
    client.get("https://scraper:hunter2hunter2@example.com/page")
httpx.HTTPStatusError: 500 for https://scraper:hunter2hunter2@example.com/page
headers: Authorization: Bearer atp_0123456789abcdefghij
api_key='sk-proj-abcdefghijklmnop' password=swordfish99
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None: the SQLite default; else a fresh, migrated PostgreSQL database."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("migrated_postgres")
    return url


@pytest.fixture
async def container(
    database_url: str | None, make_settings: Callable[..., Settings]
) -> AsyncIterator[Container]:
    """The composition root without workers (nobody else touches the jobs)."""
    overrides = {"database_url": database_url} if database_url else {}
    async with build(make_settings(**overrides)) as built:
        yield built


async def stored(container: Container, job_id: uuid.UUID) -> list[JobAttempt]:
    """The job's rows in job_attempts, as written."""
    return await container.db.read(
        lambda c: list(
            c.execute(
                select(JobAttempt).where(JobAttempt.job_id == job_id).order_by(JobAttempt.attempt)
            ).all()
        )
    )


async def history(container: Container, job_id: uuid.UUID) -> list[attempts.Attempt]:
    """The job's attempts as the API and the console show them."""
    return await container.db.read(lambda c: attempts.for_jobs(c, [job_id]))


async def test_each_attempt_is_closed_by_its_status_change(container: Container) -> None:
    """A started attempt is running (with its worker) and a completed one completed, both read
    from the job's row with no attempt row written; a retry and a requeue write theirs with
    their outcome; a stale attempt's write closes nothing."""
    user, _token = await container.auth.create_user(f"{uuid.uuid4().hex[:8]}@example.com")
    jobs = container.jobs
    job = await jobs.submit(user.id, "diagnostic.echo", {})

    first = await jobs.start(job.id, worker_id="host/1/default")
    assert first is not None
    assert not isinstance(first, Deferred)
    assert first.status == "running"
    [opened] = await history(container, job.id)
    assert (opened.attempt, opened.outcome, opened.worker_id) == (1, "running", "host/1/default")
    assert (opened.started_at, opened.finished_at) == (first.started_at, None)
    assert await stored(container, job.id) == []

    await jobs.schedule_retry(job.id, 1, "upstream 503", "Traceback: 503", 0.0)
    await jobs.start(job.id, worker_id="host/2/default")
    await jobs.requeue(job.id, 2)  # a shutdown: no retry spent
    await jobs.start(job.id, worker_id="host/3/default")
    assert await jobs.complete(job.id, 1, {"late": True}) is None  # attempt 1 is long gone
    done = await jobs.complete(job.id, 3, {"echo": None, "attempt": 3, "steps": 0})
    assert done is not None

    rows = await history(container, job.id)
    assert [(r.attempt, r.outcome) for r in rows] == [
        (1, "retry_scheduled"),
        (2, "requeued"),
        (3, "completed"),
    ]
    assert [r.worker_id for r in rows] == ["host/1/default", "host/2/default", "host/3/default"]
    assert rows[0].error_kind == "transient"
    assert rows[0].error_message == "upstream 503"
    assert all(r.finished_at is not None and r.finished_at >= r.started_at for r in rows)
    assert (rows[2].started_at, rows[2].finished_at) == (done.started_at, done.completed_at)
    assert [r.attempt for r in await stored(container, job.id)] == [1, 2]


async def test_rows_opened_by_an_older_version_are_closed(container: Container) -> None:
    """An attempt row left ``running`` by the version that opened one at every start is closed
    by the change that ends the attempt, and reads as completed once its job completes; closing
    an attempt twice, or a job that never started, writes nothing."""
    user, _token = await container.auth.create_user(f"{uuid.uuid4().hex[:8]}@example.com")
    jobs = container.jobs
    never_started = await jobs.submit(user.id, "diagnostic.echo", {})
    await jobs.cancel(user.id, never_started.id)
    assert await history(container, never_started.id) == []

    def open_row(job_id: uuid.UUID, started: object) -> Callable[[Connection], None]:
        """What the older version wrote at the start of an attempt."""

        def write(connection: Connection) -> None:
            connection.execute(
                insert(JobAttempt).values(
                    job_id=job_id,
                    attempt=1,
                    started_at=started,
                    worker_id="old/1",
                    outcome="running",
                )
            )

        return write

    failing = await jobs.submit(user.id, "diagnostic.echo", {})
    row = await jobs.start(failing.id, worker_id="old/1")
    await container.db.write(open_row(failing.id, row.started_at))
    failed = await jobs.fail(failing.id, 1, ErrorKind.INTERNAL, "boom", None)
    assert failed is not None

    def close_again(connection: Connection) -> None:
        attempts.close_attempt(
            connection, failed, Outcome.CANCELLED, failed.updated_at, error_message="again"
        )

    [closed] = await stored(container, failing.id)
    assert (closed.outcome, closed.error_message, closed.worker_id) == ("failed", "boom", "old/1")
    assert closed.finished_at is not None
    await container.db.write(close_again)  # the statement itself, not the job's status check
    assert await stored(container, failing.id) == [closed]

    completing = await jobs.submit(user.id, "diagnostic.echo", {})
    row = await jobs.start(completing.id, worker_id="old/1")
    await container.db.write(open_row(completing.id, row.started_at))
    done = await jobs.complete(completing.id, 1, {"echo": None, "attempt": 1, "steps": 0})
    [attempt] = await history(container, completing.id)
    assert (attempt.outcome, attempt.finished_at) == ("completed", done.completed_at)


async def test_failures_keep_no_secrets(container: Container) -> None:
    """Credentials in a failure's message or traceback are redacted in the attempt and in the
    job's operator-only detail; the rest of the traceback stays readable."""
    user, _token = await container.auth.create_user(f"{uuid.uuid4().hex[:8]}@example.com")
    jobs = container.jobs
    job = await jobs.submit(user.id, "diagnostic.echo", {})
    await jobs.start(job.id, worker_id="w")
    message = "fetch failed with token=abcdef123456 for https://u:pw123456@host/"
    await jobs.fail(job.id, 1, ErrorKind.INTERNAL, message, SECRET_DETAIL)

    [attempt] = await stored(container, job.id)
    row = await container.db.read(
        lambda c: c.execute(select(BackgroundJob).where(BackgroundJob.id == job.id)).one()
    )
    for text in (attempt.traceback, attempt.error_message, row.error_detail):
        assert text is not None
        for secret in ("hunter2", "atp_0123456789", "sk-proj", "swordfish", "abcdef123456"):
            assert secret not in text, (secret, text)
    assert "pw123456" not in (attempt.error_message or "")
    assert "httpx.HTTPStatusError: 500 for https://[redacted]@example.com/page" in (
        attempt.traceback or ""
    )
    assert attempt.outcome == "failed"
    assert attempt.error_kind == "internal"


def test_redaction_is_stable_and_bounded() -> None:
    """Redacting twice changes nothing more; a huge traceback keeps its end (where it raised)."""
    once = attempts.redact(SECRET_DETAIL)
    assert attempts.redact(once) == once
    huge = "x" * (attempts.MAX_TEXT * 2) + "ValueError: the end"
    cut = attempts.redact(huge) or ""
    assert len(cut) <= attempts.MAX_TEXT + 1
    assert cut.endswith("ValueError: the end")
    assert attempts.redact(None) is None
