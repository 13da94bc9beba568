"""The offline resume reader on realistic TXT, Markdown and PDF-extracted text."""

from __future__ import annotations

import pytest

from app.ai.offline.dates import find_range, normalize
from app.ai.offline.resume import parse_resume_text
from app.ai.schemas import Engine, Resume, SourceReliability
from tests.fixtures.ai_samples import MARKDOWN_RESUME, PDF_TEXT_RESUME, PLAIN_RESUME


def test_plain_resume_contact() -> None:
    """Name, email, phone, location and links come from the block above the first heading."""
    contact = parse_resume_text(PLAIN_RESUME).contact

    assert contact.name == "Jane Doe"
    assert contact.email == "jane.doe@example.com"
    assert contact.phone == "(415) 555-0132"
    assert contact.location == "San Francisco, CA"
    assert contact.links == ["linkedin.com/in/janedoe", "github.com/janedoe"]


def test_plain_resume_experience() -> None:
    """Each position gets title, company, location, normalised dates and its bullets in order."""
    experience = parse_resume_text(PLAIN_RESUME).experience

    assert [(e.title, e.company, e.location) for e in experience] == [
        ("Senior Software Engineer", "Acme Payments", "San Francisco, CA"),
        ("Software Engineer", "Shoply Inc.", "Remote"),
    ]
    assert [(e.start_date, e.end_date) for e in experience] == [
        ("2020-01", "Present"),
        ("2016-06", "2019-12"),
    ]
    assert len(experience[0].bullets) == 4
    assert experience[0].bullets[0].startswith("Led the migration of a monolith")
    assert experience[1].bullets[-1] == "Added Redis caching to the catalog service."


def test_plain_resume_other_sections() -> None:
    """Summary, education, the skills list as written and certifications are all read."""
    resume = parse_resume_text(PLAIN_RESUME)

    assert resume.summary is not None
    assert resume.summary.startswith("Backend engineer with nine years")
    school = resume.education[0]
    assert (school.institution, school.degree, school.field) == (
        "University of California, Berkeley",
        "B.S.",
        "Computer Science",
    )
    assert (school.start_date, school.end_date) == ("2012", "2016")
    assert resume.skills == [
        "Python", "Go", "SQL", "k8s", "Docker", "AWS", "Terraform", "PostgreSQL", "Redis",
        "Apache Kafka",
    ]  # fmt: skip
    assert resume.certifications == [
        "AWS Certified Solutions Architect \u2013 Associate (2021)",
        "Certified Kubernetes Administrator (CKA)",
    ]


def test_markdown_resume() -> None:
    """Markdown headings, ``### Title, Company`` headers, italic date lines and links are read."""
    resume = parse_resume_text(MARKDOWN_RESUME)

    assert resume.contact.name == "Carlos Mendes"
    assert resume.contact.phone == "+44 20 7946 0958"
    assert resume.contact.location == "London, United Kingdom"
    assert resume.contact.links == ["https://github.com/cmendes", "https://cmendes.dev"]
    assert resume.summary == "Product-minded data analyst who turns messy data into decisions."
    first, second = resume.experience
    assert (first.title, first.company, first.location) == (
        "Data Analyst",
        "Northwind Retail",
        "London, UK",
    )
    assert (first.start_date, first.end_date) == ("2021-03", "Present")
    assert (second.start_date, second.end_date) == ("2018-09", "2021-02")
    assert second.bullets == [
        "Maintained SQL queries for the credit risk data mart.",
        "Produced monthly Excel models for the finance team.",
    ]
    assert [(e.degree, e.field, e.institution) for e in resume.education] == [
        ("MSc", "Data Science", "University of Lisbon"),
        ("BSc", "Mathematics", "University of Porto"),
    ]


def test_pdf_extracted_resume() -> None:
    """``(cid:127)`` bullets, wrapped lines and ``Company`` / ``Title  dates`` headers work."""
    resume = parse_resume_text(PDF_TEXT_RESUME)

    first, second = resume.experience
    assert (first.company, first.title, first.start_date, first.end_date) == (
        "Brightwave Health",
        "Product Manager",
        "2019-03",
        "Present",
    )
    assert first.bullets[0] == (
        "Owned the roadmap for the patient scheduling app with 1.2M monthly users and grew "
        "retention by 18%."
    )
    assert len(first.bullets) == 3
    assert (second.company, second.title) == ("Globex Corporation", "Associate Product Manager")
    assert resume.education[0].institution == "Columbia University"
    assert resume.education[0].degree == "MBA"
    assert "Stakeholder management" in resume.skills


def test_unmarked_paragraphs_and_following_title() -> None:
    """Text without bullet markers under a header becomes bullets; a title may follow the dates."""
    text = (
        "John Smith\njohn@smith.io\n\nWork History\nINITECH    2019 - 2021\nStaff Engineer\n"
        "Led platform work across the company\nand hired 5 engineers.\n"
        "Owned the on-call rotation.\n"
    )
    (entry,) = parse_resume_text(text).experience

    assert (entry.company, entry.title) == ("INITECH", "Staff Engineer")
    assert entry.bullets == [
        "Led platform work across the company and hired 5 engineers.",
        "Owned the on-call rotation.",
    ]


def test_resume_without_skills_section_uses_catalog() -> None:
    """Only a resume without a skills section gets the skills the catalog finds in its text."""
    text = (
        "Ann Lee\nann@example.com\n\nExperience\nEngineer, Foo Inc  2020 - 2022\n- Ran k8s and Go\n"
    )

    assert parse_resume_text(text).skills == ["Kubernetes", "Go"]


def test_meta_reports_offline_text_heuristics() -> None:
    """A complete resume is read with medium reliability and high confidence, offline."""
    meta = parse_resume_text(PLAIN_RESUME).meta

    assert meta is not None
    assert meta.engine is Engine.OFFLINE
    assert meta.method == "text-heuristics"
    assert meta.source_reliability is SourceReliability.MEDIUM
    assert meta.confidence_score == pytest.approx(0.9)


def test_garbage_gives_low_confidence_not_an_error() -> None:
    """Text that is not a resume yields an empty resume with low confidence."""
    resume = parse_resume_text("lorem ipsum dolor sit amet\n\n\n12345")

    assert resume.experience == []
    assert resume.meta is not None
    assert resume.meta.source_reliability is SourceReliability.LOW
    assert resume.meta.confidence_score < 0.5


def test_resume_json_is_camel_case() -> None:
    """The API shape uses camelCase and reads back into the same value."""
    resume = parse_resume_text(PLAIN_RESUME)
    data = resume.model_dump(mode="json", by_alias=True)

    assert data["experience"][0]["startDate"] == "2020-01"
    assert data["meta"]["confidenceScore"] == pytest.approx(0.9)
    assert Resume.model_validate(data) == resume


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jan 2020", "2020-01"),
        ("September 2019", "2019-09"),
        ("Sept. 2019", "2019-09"),
        ("03/2018", "2018-03"),
        ("2018-03", "2018-03"),
        ("2018", "2018"),
        ("Summer 2019", "2019"),
        ("present", "Present"),
        ("Current", "Present"),
    ],
)
def test_date_normalisation(raw: str, expected: str) -> None:
    """Resume date spellings normalise to ``YYYY-MM``, ``YYYY`` or ``Present``."""
    assert normalize(raw) == expected


def test_date_range_forms() -> None:
    """Ranges with en dashes, ``to`` and open ends are found inside a line."""
    assert find_range("Acme  Mar 2019 \u2013 Present") is not None
    found = find_range("Engineer (June 2015 to Aug 2017)")
    assert found is not None
    assert (found.start, found.end) == ("2015-06", "2017-08")
    assert find_range("Built 14 services for 2M users") is None
