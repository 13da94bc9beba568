"""What the three AI operations produce: ``Resume``, ``JobPosting`` and ``Optimization``.

JSON is camelCase (``startDate``, ``tailoredResume``), matching the web app's types; Python uses
snake_case and accepts either. Every field has a default, so a partial extraction is still a
valid value and the engines never have to invent a placeholder.

Provenance lives in one place, :class:`ExtractionMeta`, under ``meta`` on each top-level result:
which engine produced it, by which method, the seed's ``confidenceScore`` (0 to 1) and
``sourceReliability``. It is kept out of the ``*Content`` classes because those are also the
structured-output schemas sent to the model, and a model must not grade its own answer.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown keys are dropped, not fatal."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class Engine(StrEnum):
    """Which engine produced a result."""

    OFFLINE = "offline"
    AGENTS = "agents"


class SourceReliability(StrEnum):
    """How far the method that produced a result can be trusted, coarse on purpose.

    ``high``: structured data the publisher wrote for machines (schema.org JSON-LD);
    ``medium``: a model's reading, or heuristics that found the expected structure;
    ``low``: heuristics that had to guess (no headings, few fields found).
    """

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class ExtractionMeta(CamelModel):
    """Provenance of a result, filled by the engine, never by the model."""

    engine: Engine = Engine.OFFLINE
    method: str = ""  # e.g. "json-ld", "page-heuristics", "text-heuristics", "model"
    confidence_score: float = Field(default=0.0, ge=0.0, le=1.0)
    source_reliability: SourceReliability = SourceReliability.LOW
    # Set when the Agents path gave up and the offline engine answered instead.
    fallback_reason: str | None = None


# --- resume ----------------------------------------------------------------------------------


class Contact(CamelModel):
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    location: str | None = None
    links: list[str] = Field(default_factory=list)


class Experience(CamelModel):
    """One position. Dates are ``YYYY-MM`` or ``YYYY``; an ongoing position ends ``Present``."""

    title: str | None = None
    company: str | None = None
    location: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    bullets: list[str] = Field(default_factory=list)


class Education(CamelModel):
    institution: str | None = None
    degree: str | None = None
    field: str | None = None
    start_date: str | None = None
    end_date: str | None = None


class ResumeContent(CamelModel):
    """The resume itself: the shape a model is asked to fill."""

    contact: Contact = Field(default_factory=Contact)
    summary: str | None = None
    experience: list[Experience] = Field(default_factory=list)
    education: list[Education] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list)
    certifications: list[str] = Field(default_factory=list)


class Resume(ResumeContent):
    meta: ExtractionMeta | None = None


# --- job posting -----------------------------------------------------------------------------


class Salary(CamelModel):
    """A pay range; ``period`` is one of hour, day, week, month, year."""

    min: float | None = None
    max: float | None = None
    currency: str | None = None
    period: str | None = None


class JobPostingContent(CamelModel):
    """The posting without its URL: the shape a model is asked to fill."""

    title: str | None = None
    company: str | None = None
    location: str | None = None
    remote: bool | None = None
    employment_type: str | None = None  # full-time, part-time, contract, temporary, internship
    salary: Salary | None = None
    description: str | None = None
    responsibilities: list[str] = Field(default_factory=list)
    requirements: list[str] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list)


class JobPosting(JobPostingContent):
    url: str | None = None
    meta: ExtractionMeta | None = None


# --- optimization ----------------------------------------------------------------------------


class TailoringContent(CamelModel):
    """What a model may change when tailoring: the resume's wording and order, plus advice."""

    tailored_resume: ResumeContent = Field(default_factory=ResumeContent)
    suggestions: list[str] = Field(default_factory=list)


class Optimization(CamelModel):
    """A resume tailored to a posting, scored before and after with the same offline scorer.

    ``resumeId`` and ``jobPostingId`` are filled by the task that stores the entities; the
    engine leaves them empty.
    """

    resume_id: uuid.UUID | None = None
    job_posting_id: uuid.UUID | None = None
    score_before: int = Field(default=0, ge=0, le=100)
    score: int = Field(default=0, ge=0, le=100)
    matched_keywords: list[str] = Field(default_factory=list)
    missing_keywords: list[str] = Field(default_factory=list)
    tailored_resume: Resume = Field(default_factory=Resume)
    suggestions: list[str] = Field(default_factory=list)
    meta: ExtractionMeta | None = None
