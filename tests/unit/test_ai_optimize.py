"""Offline tailoring: a measurable gain, useful suggestions, and never an invented claim."""

from __future__ import annotations

from collections import Counter

import pytest

from app.ai.offline.engine import OfflineEngine, optimize_offline
from app.ai.offline.evidence import unsupported
from app.ai.offline.posting import extract_posting
from app.ai.offline.resume import parse_resume_text
from app.ai.offline.score import score_resume
from app.ai.schemas import Engine, Experience, Resume
from tests.fixtures.ai_samples import (
    GRAPH_POSTING,
    HEURISTIC_POSTING,
    JSONLD_POSTING,
    MARKDOWN_RESUME,
    PDF_TEXT_RESUME,
    PLAIN_RESUME,
)

PAIRS = [
    (PLAIN_RESUME, JSONLD_POSTING),
    (MARKDOWN_RESUME, GRAPH_POSTING),
    (PDF_TEXT_RESUME, HEURISTIC_POSTING),
    (PLAIN_RESUME, HEURISTIC_POSTING),
]


@pytest.mark.parametrize(("resume_text", "page"), PAIRS)
def test_tailoring_never_invents_experience(resume_text: str, page: str) -> None:
    """Positions, dates, bullets, schools, certificates and contact stay exactly the source's;
    only their order and the summary and skills wording change."""
    resume = parse_resume_text(resume_text)
    posting = extract_posting(page, None, None)

    tailored = optimize_offline(resume, posting).tailored_resume

    key = [(e.company, e.title, e.location, e.start_date, e.end_date) for e in resume.experience]
    assert [
        (e.company, e.title, e.location, e.start_date, e.end_date) for e in tailored.experience
    ] == key
    for before, after in zip(resume.experience, tailored.experience, strict=True):
        assert Counter(after.bullets) == Counter(before.bullets)
    assert tailored.education == resume.education
    assert tailored.certifications == resume.certifications
    assert tailored.contact == resume.contact
    assert tailored.meta is None  # provenance is the optimization's, under its own meta
    assert unsupported(resume, tailored) == []


@pytest.mark.parametrize(("resume_text", "page"), PAIRS)
def test_scores_come_from_one_scorer(resume_text: str, page: str) -> None:
    """``scoreBefore`` and ``score`` are the same scorer applied to the source and the tailored
    resume, so the gain is comparable and never negative."""
    resume = parse_resume_text(resume_text)
    posting = extract_posting(page, None, None)

    result = optimize_offline(resume, posting)

    assert result.score_before == score_resume(resume, posting).score
    assert result.score == score_resume(result.tailored_resume, posting).score
    assert result.score >= result.score_before


def test_tailoring_shows_a_gain_and_the_gap() -> None:
    """Surfacing evidenced keywords raises the score; the gap report lists what is missing."""
    resume = parse_resume_text(MARKDOWN_RESUME)
    posting = extract_posting(GRAPH_POSTING, None, None)

    result = optimize_offline(resume, posting)

    assert result.score > result.score_before
    assert "Power BI" in result.missing_keywords
    assert {"SQL", "Tableau", "Python"} <= set(result.matched_keywords)
    assert any("Power BI" in suggestion for suggestion in result.suggestions)
    assert result.meta is not None
    assert result.meta.engine is Engine.OFFLINE


def test_skills_lead_with_the_postings_terms() -> None:
    """Evidenced keywords lead the skills list in the posting's spelling, keeping the alias."""
    resume = parse_resume_text(PLAIN_RESUME)
    posting = extract_posting(JSONLD_POSTING, None, None)

    skills = optimize_offline(resume, posting).tailored_resume.skills

    assert skills[:3] == ["Python", "Go", "Kubernetes (k8s)"]
    assert "k8s" not in skills  # folded into "Kubernetes (k8s)", not listed twice
    assert {"Docker", "Redis", "SQL"} <= set(skills)  # nothing the author listed is dropped


def test_bullets_are_reordered_by_relevance() -> None:
    """Within a position, bullets naming the posting's keywords move up; ties keep their order."""
    resume = parse_resume_text(PLAIN_RESUME)
    posting = extract_posting(JSONLD_POSTING, None, None)

    bullets = optimize_offline(resume, posting).tailored_resume.experience[0].bullets

    assert bullets[0].startswith("Led the migration")  # Python + k8s
    assert bullets[-1] == "Mentored four engineers and ran the backend guild."


def test_summary_is_built_from_evidence() -> None:
    """The new summary names the latest title and evidenced keywords, then the author's own."""
    resume = parse_resume_text(PDF_TEXT_RESUME)
    posting = extract_posting(HEURISTIC_POSTING, None, None)

    summary = optimize_offline(resume, posting).tailored_resume.summary

    assert summary is not None
    assert summary.startswith("Product Manager with hands-on experience in SQL")
    assert "A/B testing" not in summary  # wanted by the posting, absent from the resume


def test_input_resume_is_not_modified() -> None:
    """Optimising leaves the caller's resume untouched."""
    resume = parse_resume_text(PLAIN_RESUME)
    snapshot = resume.model_dump()

    optimize_offline(resume, extract_posting(JSONLD_POSTING, None, None))

    assert resume.model_dump() == snapshot


def test_evidence_check_catches_invented_claims() -> None:
    """A new employer, a dropped position, a new number and a new skill are all reported."""
    source = parse_resume_text(PLAIN_RESUME)
    tailored = source.model_copy(deep=True)
    tailored.experience[1] = Experience(
        title="Staff Engineer", company="Google", start_date="2015", end_date="2016"
    )
    tailored.experience[0].bullets[0] = "Cut deploy time by 97% with Rust and Kubernetes."

    problems = unsupported(source, tailored)

    assert any("position not in the source" in p and "google" in p.lower() for p in problems)
    assert any("position left out" in p for p in problems)
    assert "number not in the source: 97" in problems
    assert "skill not in the source: Rust" in problems
    assert not any("Kubernetes" in p for p in problems)  # k8s is evidence for it


async def test_offline_engine_protocol_methods() -> None:
    """The offline engine answers all three operations without network or key."""
    engine = OfflineEngine()

    resume = await engine.parse_resume(MARKDOWN_RESUME)
    posting = await engine.extract_job(GRAPH_POSTING, "https://jobs.example.org/1", None)
    result = await engine.optimize(resume, posting)
    await engine.aclose()

    assert isinstance(resume, Resume)
    assert posting.url == "https://jobs.example.org/1"
    assert result.resume_id is None  # ids are the storing task's to fill
    assert result.score >= result.score_before
