"""Resume text → :class:`Resume`, by headings, regular expressions and the skill list.

The text is cut into sections at lines that name a known heading (``EXPERIENCE``, ``## Work
Experience``, ``Skills:``); the lines above the first heading are the contact block. Each section
has its own reader. Nothing is inferred that the text does not say: a skill list is the one the
author wrote (surfacing skills hidden in bullets is the optimiser's job, and shows up as a gain
there); only a resume without a skills section gets the skills the catalog finds in it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from app.ai.offline.entries import LOCATION, read_education, read_experience
from app.ai.offline.keywords import default_catalog
from app.ai.offline.text import Line, read_lines, split_fields, split_list
from app.ai.schemas import Contact, ExtractionMeta, Resume, ResumeContent, SourceReliability

_HEADINGS: dict[str, tuple[str, ...]] = {
    "summary": (
        "summary", "professional summary", "career summary", "executive summary", "profile",
        "professional profile", "personal profile", "about", "about me", "objective",
        "career objective", "overview", "introduction",
    ),
    "experience": (
        "experience", "work experience", "professional experience", "relevant experience",
        "employment", "employment history", "work history", "career history",
        "professional background", "positions held",
    ),
    "education": (
        "education", "academic background", "education and training", "academic history",
        "academics", "education and qualifications",
    ),
    "skills": (
        "skills", "technical skills", "key skills", "core skills", "core competencies",
        "competencies", "technologies", "tech stack", "technical stack", "tools",
        "skills and tools", "tools and technologies", "areas of expertise", "expertise",
        "skills and expertise", "technical proficiencies",
    ),
    "certifications": (
        "certifications", "certificates", "certification", "licenses", "licences",
        "licenses and certifications", "certifications and licenses", "credentials",
        "courses and certifications", "certifications and training",
    ),
    "projects": ("projects", "personal projects", "selected projects", "side projects"),
    "awards": ("awards", "honors", "honours", "awards and honors", "achievements"),
    "languages": ("languages", "spoken languages"),
    "publications": ("publications", "papers", "talks", "talks and publications"),
    "volunteer": ("volunteer", "volunteering", "volunteer experience", "community"),
    "interests": ("interests", "hobbies", "hobbies and interests"),
    "references": ("references",),
}  # fmt: skip
_SECTION_OF = {name: section for section, names in _HEADINGS.items() for name in names}
_SKILL_LABELS = frozenset({*_HEADINGS["skills"], "languages", "programming languages"})
MAX_HEADING_WORDS = 5

# Patterns that scan a whole text start a match only where a run of their characters starts (a
# lookbehind): tried inside the run as well, each try rescans the run, and 200,000 digits took
# minutes (a resume is untrusted text; tests/unit/test_regex_cost.py).
EMAIL = re.compile(r"(?<![\w.+\-])[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[A-Za-z]{2,}")
PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{2,4}\)|\d{2,5})(?:[\s.\-]?\d{2,4}){1,3}(?!\w)"
)
_URL = re.compile(
    r"(?:https?://|www\.)[^\s|,;()<>]+|(?<![@\w.\-])(?:[\w\-]+\.)+(?:com|org|net|io|dev|me|"
    r"co|ai|app|page|site|xyz|tech|info)(?:/[^\s|,;()<>]*)?(?![\w@])",
    re.IGNORECASE,
)
_NAME = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ÿ'\u2019.\-]+(?:\s+[A-Za-zÀ-ÖØ-öø-ÿ'\u2019.\-]+){1,4}$")
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 7, 15


def parse_resume_text(text: str) -> Resume:
    """Read a resume's text into a :class:`Resume` with provenance."""
    lines = read_lines(text)
    header, sections = _sections(lines)
    contact = _contact(header, lines)
    summary = " ".join(line.text for line in sections.get("summary", []) if not line.blank)
    experience = read_experience(sections.get("experience", []))
    education = read_education(sections.get("education", []))
    if "skills" in sections:
        skills = _skill_list(sections["skills"])
    else:
        skills = default_catalog().names_in(text)
    certifications = [line.text for line in sections.get("certifications", []) if line.text]
    resume = Resume(
        contact=contact,
        summary=summary or None,
        experience=experience,
        education=education,
        skills=skills,
        certifications=certifications,
    )
    resume.meta = _meta(resume, sections.keys())
    return resume


def _sections(lines: list[Line]) -> tuple[list[Line], dict[str, list[Line]]]:
    """The contact block and each named section's lines (repeated headings are merged)."""
    header: list[Line] = []
    sections: dict[str, list[Line]] = {}
    current: list[Line] = header
    section: str | None = None
    for line in lines:
        heading, inline = _heading(line, section)
        if heading is None:
            current.append(line)
            continue
        section = heading
        current = sections.setdefault(heading, [])
        if inline:
            current.append(Line(inline, bullet=False, markdown_heading=False, raw=line.raw))
    return header, sections


def _heading(line: Line, section: str | None) -> tuple[str | None, str]:
    """The section a line opens, and any text after ``Heading:`` on the same line."""
    if line.bullet or line.blank:
        return None, ""
    label, colon, rest = line.text.partition(":")
    key = _heading_key(label)
    if section == "skills" and key in _SKILL_LABELS:
        return None, ""  # "Languages" or "Tools" as a label inside the skills section
    if key in _SECTION_OF and len(key.split()) <= MAX_HEADING_WORDS:
        if rest.strip() and not colon:
            return None, ""
        return _SECTION_OF[key], rest.strip()
    if line.markdown_heading and section is not None and section != "experience":
        return "other", ""  # an explicit heading we do not read ("## Talks")
    return None, ""


def _heading_key(text: str) -> str:
    text = text.strip().strip("#*_=|:-\u2013\u2014").strip().lower().replace("&", "and")
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def _contact(header: list[Line], lines: list[Line]) -> Contact:
    """Name, email, phone, location and links, preferring the block above the first heading."""
    block = "\n".join(line.text for line in header) or "\n".join(line.text for line in lines)
    everything = "\n".join(line.text for line in lines)
    email_match = EMAIL.search(block) or EMAIL.search(everything)
    email = email_match.group(0) if email_match else None
    links = _links(block, email)
    phone = _phone(block, links)
    name = None
    location = None
    for line in header:
        for field_text in split_fields(line.text):
            if name is None and _looks_like_name(field_text):
                name = field_text.title() if field_text.isupper() else field_text
            elif location is None and LOCATION.match(field_text):
                location = field_text
    return Contact(name=name, email=email, phone=phone, location=location, links=links)


def _looks_like_name(text: str) -> bool:
    key = _heading_key(text)
    return bool(_NAME.match(text)) and key not in _SECTION_OF and not _role_words(text)


def _role_words(text: str) -> bool:
    words = {"engineer", "developer", "manager", "analyst", "designer", "resume", "curriculum"}
    return bool(words & {word.lower().strip(".,") for word in text.split()})


def _phone(block: str, links: list[str]) -> str | None:
    without_links = block
    for link in links:
        without_links = without_links.replace(link, " ")
    for match in PHONE.finditer(without_links):
        digits = re.sub(r"\D", "", match.group(0))
        if MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS and not _is_year_span(match[0]):
            return match.group(0).strip()
    return None


def _is_year_span(text: str) -> bool:
    return bool(re.fullmatch(r"(?:19|20)\d\d\s*[-\u2013]\s*(?:19|20)\d\d", text.strip()))


def _links(block: str, email: str | None) -> list[str]:
    found = []
    for match in _URL.finditer(block):
        link = match.group(0).rstrip(".,;:)")
        if email and link in email:
            continue
        found.append(link)
    return list(dict.fromkeys(found))


def _skill_list(lines: Iterable[Line]) -> list[str]:
    """Items of a skills section as written: ``Label: a, b`` lines give ``a`` and ``b``."""
    items: list[str] = []
    for line in lines:
        if line.blank:
            continue
        label, colon, rest = line.text.partition(":")
        text = rest if colon and len(label.split()) <= MAX_HEADING_WORDS else line.text
        items.extend(item for item in split_list(text) if len(item.split()) <= MAX_HEADING_WORDS)
    unique: dict[str, str] = {}
    for item in items:
        unique.setdefault(item.casefold(), item)
    return list(unique.values())


def completeness(resume: ResumeContent) -> float:
    """Share of the parts every resume has that were found (0 to 1), whoever read it."""
    found = [
        resume.contact.name is not None,
        resume.contact.email is not None or resume.contact.phone is not None,
        any(entry.start_date or entry.end_date for entry in resume.experience),
        bool(resume.education),
        bool(resume.skills),
    ]
    return sum(found) / len(found)


def _meta(resume: Resume, sections: Iterable[str]) -> ExtractionMeta:
    """Confidence grows with :func:`completeness`; reliability needs the main sections."""
    share = completeness(resume)
    known = set(sections) & {"summary", "experience", "education", "skills"}
    reliability = (
        SourceReliability.MEDIUM if share >= 0.8 and len(known) >= 3 else SourceReliability.LOW
    )
    return ExtractionMeta(
        method="text-heuristics",
        confidence_score=round(0.2 + 0.7 * share, 2),
        source_reliability=reliability,
    )
