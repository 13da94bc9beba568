"""Skill matching and the ATS match score."""

from __future__ import annotations

from app.ai.offline.keywords import default_catalog
from app.ai.offline.posting import extract_posting
from app.ai.offline.resume import parse_resume_text
from app.ai.offline.score import score_resume
from app.ai.schemas import Experience, JobPosting, ResumeContent
from tests.fixtures.ai_samples import (
    GRAPH_POSTING,
    JSONLD_POSTING,
    MARKDOWN_RESUME,
    PDF_TEXT_RESUME,
    PLAIN_RESUME,
)


def names(text: str) -> list[str]:
    return default_catalog().names_in(text)


def test_aliases_map_to_canonical_names() -> None:
    """Aliases are found under their canonical name (k8s → Kubernetes, postgres → PostgreSQL)."""
    assert names("Ran k8s, postgres and golang on GCP") == [
        "Kubernetes",
        "PostgreSQL",
        "Go",
        "Google Cloud",
    ]


def test_symbols_and_boundaries() -> None:
    """Names with symbols match whole; fragments of other words and names do not."""
    assert names("C++, C#, .NET, Node.js, CI/CD") == ["C++", "C#", ".NET", "Node.js", "CI/CD"]
    assert names("PostgreSQL and T-SQL") == ["PostgreSQL", "T-SQL"]  # no bare SQL inside
    assert names("Reported to C-level staff; R&D budget; signed John R. Smith") == []
    assert names("You excel at the rest of the job") == []  # verbs and prose, not skills
    assert names("Pivot tables in Excel; REST APIs") == ["Excel", "REST APIs"]
    assert names("Terraform-based infrastructure") == ["Terraform"]


def test_line_wrapped_skill_still_matches() -> None:
    """A multi-word skill broken across lines (as PDF text is) still matches."""
    assert names("Built on Apache\nKafka") == ["Apache Kafka"]


def test_matched_and_missing_keywords() -> None:
    """The resume's evidence is matched against the posting's skills; absent ones are missing."""
    resume = parse_resume_text(MARKDOWN_RESUME)
    posting = extract_posting(GRAPH_POSTING, None, None)

    report = score_resume(resume, posting)

    assert set(report.matched) == {"SQL", "Tableau", "Python", "A/B testing", "Data visualization"}
    assert report.missing == ["Power BI"]
    assert 0 <= report.score <= 100


def test_requirements_weigh_more_than_description() -> None:
    """A skill named in the requirements counts double one only described elsewhere."""
    posting = JobPosting(
        title="Engineer", requirements=["Python required"], description="We also use Redis."
    )
    with_required = ResumeContent(experience=[Experience(title="Engineer", bullets=["Python"])])
    with_described = ResumeContent(experience=[Experience(title="Engineer", bullets=["Redis"])])

    assert score_resume(with_required, posting).score > score_resume(with_described, posting).score


def test_alias_earns_less_than_the_posting_spelling() -> None:
    """``k8s`` counts, but less than ``Kubernetes`` as the posting writes it (ATS search is
    literal)."""
    posting = JobPosting(title="Platform Engineer", requirements=["Kubernetes"])
    alias = ResumeContent(skills=["k8s"])
    literal = ResumeContent(skills=["Kubernetes"])

    alias_report = score_resume(alias, posting)
    assert alias_report.matched == ["Kubernetes"]
    assert alias_report.score < score_resume(literal, posting).score


def test_near_miss_is_reported_missing_with_partial_credit() -> None:
    """A misspelling is not a match (an ATS would miss it) but earns partial credit."""
    posting = JobPosting(title="Platform Engineer", requirements=["Kubernetes"])
    typo = ResumeContent(skills=["Kubernets"])

    report = score_resume(typo, posting)

    assert report.missing == ["Kubernetes"]
    assert report.matches["Kubernetes"] == "fuzzy"
    assert report.surfaces["Kubernetes"] == "kubernets"
    assert score_resume(typo, posting).score > score_resume(ResumeContent(), posting).score


def test_fitting_resume_scores_higher_than_unrelated() -> None:
    """The platform engineer fits the platform posting better than the product manager does."""
    posting = extract_posting(JSONLD_POSTING, None, None)

    engineer = score_resume(parse_resume_text(PLAIN_RESUME), posting).score
    manager = score_resume(parse_resume_text(PDF_TEXT_RESUME), posting).score

    assert engineer > manager


def test_employer_names_do_not_count_as_skills() -> None:
    """Working at a company named like a product (Oracle) is not evidence of the product."""
    posting = JobPosting(title="DBA", requirements=["Oracle Database"])
    resume = ResumeContent(experience=[Experience(company="Oracle Database Inc", title="Clerk")])

    assert score_resume(resume, posting).matched == []
