"""The offline job-posting reader: schema.org JSON-LD first, page heuristics otherwise."""

from __future__ import annotations

import pytest

from app.ai.offline.posting import extract_posting, salary_in
from app.ai.schemas import Salary, SourceReliability
from tests.fixtures.ai_samples import (
    GRAPH_POSTING,
    GRAPH_POSTING_URL,
    HEURISTIC_POSTING,
    HEURISTIC_POSTING_URL,
    JSONLD_POSTING,
    JSONLD_POSTING_URL,
)


def test_json_ld_fields() -> None:
    """Title, employer, locations, remote, employment type and salary come from JSON-LD."""
    posting = extract_posting(JSONLD_POSTING, JSONLD_POSTING_URL, None)

    assert posting.url == JSONLD_POSTING_URL
    assert posting.title == "Senior Platform Engineer"
    assert posting.company == "Acme Payments"
    assert posting.location == "San Francisco, CA, US; New York, NY, US"
    assert posting.remote is True
    assert posting.employment_type == "full-time"
    assert posting.salary == Salary(min=170000, max=210000, currency="USD", period="year")


def test_json_ld_escaped_description_is_split() -> None:
    """An HTML-escaped description becomes text, split into responsibilities and requirements;
    nice-to-have items are not requirements."""
    posting = extract_posting(JSONLD_POSTING, JSONLD_POSTING_URL, None)

    assert posting.responsibilities == [
        "Run our Kubernetes platform on AWS",
        "Build CI/CD pipelines with GitHub Actions",
        "Own observability with Prometheus and Grafana",
    ]
    assert posting.requirements == [
        "5+ years of Python or Go",
        "Production experience with Kubernetes and Terraform",
        "Strong PostgreSQL skills",
    ]
    assert posting.description is not None
    assert "<li>" not in posting.description
    assert "- Rust" in posting.description
    assert posting.skills[:5] == ["Python", "Go", "Kubernetes", "Terraform", "PostgreSQL"]
    assert posting.meta is not None
    assert posting.meta.method == "json-ld"
    assert posting.meta.source_reliability is SourceReliability.HIGH


def test_sloppy_json_ld_in_graph() -> None:
    """``@graph``, a list ``@type``, raw tabs and newlines, a trailing comma and a ``//``
    comment do not stop the posting from being read."""
    posting = extract_posting(GRAPH_POSTING, GRAPH_POSTING_URL, None)

    assert posting.title == "Data Analyst"
    assert posting.company == "Northwind Retail"
    assert posting.location == "London, United Kingdom"
    assert posting.employment_type == "full-time, contract"
    assert posting.salary == Salary(min=52000, max=52000, currency="GBP", period="year")
    assert posting.responsibilities == [
        "Build dashboards for store managers",
        "Run A/B tests with marketing",
    ]
    assert posting.requirements == ["Strong SQL", "Experience with Tableau or Power BI"]
    assert {"SQL", "Tableau", "Power BI", "Python"} <= set(posting.skills)


def test_page_heuristics_without_structured_data() -> None:
    """Without JSON-LD, the h1, og:site_name, the labelled meta line and the sections under
    their headings give the posting; nav, form, footer and benefits are left out."""
    posting = extract_posting(HEURISTIC_POSTING, HEURISTIC_POSTING_URL, None)

    assert posting.title == "Senior Product Manager, Payments"
    assert posting.company == "Globex"
    assert posting.location == "Berlin, Germany (Hybrid)"
    assert posting.remote is False
    assert posting.employment_type == "full-time"
    assert posting.salary == Salary(min=85000, max=100000, currency="EUR", period="year")
    assert posting.responsibilities[0] == "Own the product roadmap for checkout and payments"
    assert posting.requirements == [
        "5+ years of product management experience",
        "Strong SQL and data analysis skills",
        "Stakeholder management across sales and legal",
        "Experience with Jira and A/B testing",
    ]
    assert posting.description is not None
    for noise in ("Apply now", "Imprint", "Home", "dataLayer", "font-family"):
        assert noise not in posting.description
    assert posting.meta is not None
    assert posting.meta.method == "page-heuristics"
    assert posting.meta.source_reliability is SourceReliability.MEDIUM


def test_company_hint_beats_site_name() -> None:
    """The caller's company hint outranks ``og:site_name``, which is often the ATS's name."""
    page = HEURISTIC_POSTING.replace('content="Globex"', 'content="Greenhouse"')

    assert extract_posting(page, HEURISTIC_POSTING_URL, "Globex GmbH").company == "Globex GmbH"


def test_structured_employer_beats_hint() -> None:
    """The employer named in JSON-LD wins over a hint."""
    assert extract_posting(JSONLD_POSTING, None, "Someone else").company == "Acme Payments"


def test_bare_page_gives_low_reliability() -> None:
    """A page with only a title is read with low reliability rather than failing."""
    posting = extract_posting("<html><title>Welder - Foo Works</title></html>", None, None)

    assert posting.title == "Welder"
    assert posting.company == "Foo Works"
    assert posting.meta is not None
    assert posting.meta.source_reliability is SourceReliability.LOW


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pay: $140k\u2013$170k", Salary(min=140000, max=170000, currency="USD")),
        ("$45 - $60 per hour", Salary(min=45, max=60, currency="USD", period="hour")),
        (
            "£50,000 to £60,000 annually",
            Salary(min=50000, max=60000, currency="GBP", period="year"),
        ),
        (
            "EUR 70.000 - 80.000 per year",
            Salary(min=70000, max=80000, currency="EUR", period="year"),
        ),
    ],
)
def test_salary_in_text(text: str, expected: Salary) -> None:
    """Pay ranges in page text are read with currency, thousands and period."""
    assert salary_in(text) == expected
