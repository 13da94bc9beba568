"""ORM models: the app tables that Alembic migrates (the queue owns its own tables)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.db import UTCDateTime, utcnow
from app.ids import uuid7

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
EventId = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def owner_key() -> ForeignKey:
    """The owning user: rows go with their user."""
    return ForeignKey("users.id", ondelete="CASCADE")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}  # noqa: RUF012


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Argon2id (app/passwords.py); None for users made by the CLI until they set one.
    password_hash: Mapped[str | None] = mapped_column(String(255))


class ApiToken(Base):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class UserSession(Base):
    """A browser session. The cookie holds a random id; only its SHA-256 is stored, so a copy of
    the database signs nobody in. Idle and absolute expiry are checked against the timestamps."""

    __tablename__ = "user_sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(owner_key(), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class BackgroundJob(Base):
    """The job a user sees: the source of truth for status, progress and result.

    ``attempt`` and ``lease_expires_at`` fence workers: every worker write names the attempt it
    runs, so a worker that was reaped but is still alive cannot overwrite a newer attempt.
    """

    __tablename__ = "background_jobs"
    __table_args__ = (
        Index("ix_background_jobs_user_id_created_at", "user_id", "created_at"),
        Index("ix_background_jobs_user_id_dedupe_key", "user_id", "dedupe_key"),
        Index("ix_background_jobs_user_id_idempotency_key", "user_id", "idempotency_key"),
        # By status, then id: the reconciler pages through the pending jobs in id order.
        Index("ix_background_jobs_status_id", "status", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    job_type: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(20))
    priority: Mapped[int] = mapped_column(Integer, default=5)
    queue: Mapped[str] = mapped_column(String(20))
    progress: Mapped[int] = mapped_column(Integer, default=0)
    progress_message: Mapped[str | None] = mapped_column(String(500))
    input_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_kind: Mapped[str | None] = mapped_column(String(20))
    error_detail: Mapped[str | None] = mapped_column(Text)  # traceback, operators only
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    max_retries: Mapped[int] = mapped_column(Integer, default=3)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    stall_count: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    run_after: Mapped[datetime | None]
    # Same input while one is pending or running: the existing job is returned.
    dedupe_key: Mapped[str | None] = mapped_column(String(64))
    # A client's Idempotency-Key: a repeat within 24 h returns the same job.
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class JobEntityAssociation(Base):
    """Links a job to the resume, posting or optimization it produced."""

    __tablename__ = "job_entity_associations"
    __table_args__ = (Index("ix_job_entity_associations_entity", "entity_type", "entity_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("background_jobs.id", ondelete="CASCADE"), index=True
    )
    entity_type: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobEvent(Base):
    """Append-only log of job changes. The row id is the SSE event id."""

    __tablename__ = "job_events"
    __table_args__ = (Index("ix_job_events_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("background_jobs.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Upload(Base):
    """An uploaded file waiting to be parsed. In the database, so a worker on another host reads
    it too; removed with its user."""

    __tablename__ = "uploads"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(owner_key(), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ResumeEntity(Base):
    """A parsed resume (``data`` is the API's ``Resume``)."""

    __tablename__ = "resumes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(owner_key(), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobPostingEntity(Base):
    """An extracted job posting (``data`` is the API's ``JobPosting``)."""

    __tablename__ = "job_postings"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(owner_key(), index=True)
    url: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OptimizationEntity(Base):
    """A resume tailored to a posting (``data`` is the API's ``Optimization``). It keeps its
    own copy of what it was made from, so deleting the resume or posting leaves it readable."""

    __tablename__ = "optimizations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(owner_key(), index=True)
    resume_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("resumes.id", ondelete="SET NULL")
    )
    job_posting_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("job_postings.id", ondelete="SET NULL")
    )
    score: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- operations (admin console) -------------------------------------------------------------


class JobAttempt(Base):
    """One run of a job that did not complete: when and where it ran and how it ended. Written in
    the transaction of the status change that ends the attempt, so history costs no extra
    commit; a running or completed attempt is read from its job's row (app/jobs/attempts.py)."""

    __tablename__ = "job_attempts"
    __table_args__ = (
        Index("ix_job_attempts_job_id_attempt", "job_id", "attempt", unique=True),
        Index("ix_job_attempts_finished_at", "finished_at"),  # analytics by day
    )

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("background_jobs.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    worker_id: Mapped[str | None] = mapped_column(String(200))
    # running, completed, failed, retry_scheduled, requeued, stalled, cancelled
    outcome: Mapped[str] = mapped_column(String(20))
    error_kind: Mapped[str | None] = mapped_column(String(20))
    error_message: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)  # operators only, secrets redacted


class AdminAudit(Base):
    """What an admin did (retry, discard, abort…), kept after the job or the admin is gone."""

    __tablename__ = "admin_audit"

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    admin_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    admin_email: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(50), index=True)
    target: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


# --- AI token budget ------------------------------------------------------------------------


class TokenUsage(Base):
    """Model tokens one user spent on one UTC day (app/budget.py): one row per user and day,
    added to as jobs finish their model calls."""

    __tablename__ = "token_usage"

    user_id: Mapped[uuid.UUID] = mapped_column(owner_key(), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- readiness ------------------------------------------------------------------------------


class WriteCheck(Base):
    """Always empty: ``/readyz`` inserts a row and deletes it in one committed transaction to learn
    that the database still takes writes (app/readiness.py)."""

    __tablename__ = "write_checks"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    checked_at: Mapped[datetime] = mapped_column()
