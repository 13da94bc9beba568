"""The ATS match score: how well a resume answers a posting, 0 to 100.

The same function scores the resume before and after tailoring, so the gain users see is real
and comparable, whichever engine tailored it. It imitates what applicant tracking systems do:
search the resume for the posting's keywords, literally.

* **Keywords** (60 %): the posting's skills, weighted 2 when the title or the requirements name
  them and 1 elsewhere. A keyword written as the posting writes it earns full credit; only under
  an alias (``k8s`` for Kubernetes) it earns 0.6, because literal ATS searches miss it; a near
  miss (``Kubernets``) earns 0.4 and is reported as missing, with a suggestion to confirm.
* **Skills section** (10 %): share of the evidenced keywords that the skills list names as
  the posting does.
* **Title** (10 %): closest job title to the posting's title (``token_set_ratio``).
* **Sections** (10 %): summary, experience, education, skills present.
* **Contact** (10 %): name, email, phone present.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rapidfuzz import fuzz

from app.ai.offline.keywords import contains_phrase, default_catalog, fuzzy_find, word_ngrams
from app.ai.schemas import JobPosting, ResumeContent

REQUIRED_WEIGHT, OTHER_WEIGHT = 2.0, 1.0
ALIAS_CREDIT, FUZZY_CREDIT = 0.6, 0.4
MAX_KEYWORDS = 40
WEIGHTS = {"keywords": 0.6, "skills": 0.1, "title": 0.1, "sections": 0.1, "contact": 0.1}
NEUTRAL_TITLE = 0.5  # a posting without a title says nothing about title fit

Match = Literal["literal", "alias", "fuzzy", "missing"]


@dataclass(frozen=True)
class Keyword:
    """A term the posting asks for, and the spellings that count as the same."""

    name: str
    weight: float
    spellings: tuple[str, ...]


@dataclass
class ScoreReport:
    """The score and the evidence behind it, for reports and for tailoring."""

    score: int
    matches: dict[str, Match] = field(default_factory=dict)  # keyword → how it was found
    surfaces: dict[str, str] = field(default_factory=dict)  # keyword → the resume's spelling
    keywords: list[Keyword] = field(default_factory=list)
    components: dict[str, float] = field(default_factory=dict)

    @property
    def matched(self) -> list[str]:
        return [k.name for k in self.keywords if self.matches[k.name] in ("literal", "alias")]

    @property
    def missing(self) -> list[str]:
        return [k.name for k in self.keywords if self.matches[k.name] in ("fuzzy", "missing")]


def posting_keywords(posting: JobPosting) -> list[Keyword]:
    """The skills a posting asks for, heaviest first: catalog hits plus its stated skills."""
    catalog = default_catalog()
    weights: dict[str, float] = {}
    spellings: dict[str, set[str]] = {}
    places = [
        (REQUIRED_WEIGHT, [posting.title or "", *posting.requirements]),
        (OTHER_WEIGHT, [*posting.responsibilities, posting.description or ""]),
    ]
    for weight, texts in places:
        for text in texts:
            for hit in catalog.find(text):
                weights[hit.canonical] = max(weights.get(hit.canonical, 0.0), weight)
                spellings.setdefault(hit.canonical, {hit.canonical}).add(hit.surface)
    for stated in posting.skills:
        name = catalog.canonical(stated) or stated.strip()
        if name and name not in weights:
            weights[name] = OTHER_WEIGHT
            spellings[name] = {name, stated.strip()}
    ordered = sorted(weights, key=lambda name: -weights[name])[:MAX_KEYWORDS]
    return [Keyword(name, weights[name], tuple(sorted(spellings[name]))) for name in ordered]


def searchable_text(resume: ResumeContent) -> str:
    """What an ATS searches: everything the candidate wrote except employer names, which
    would match skills by accident (a job at "Oracle" is not Oracle Database)."""
    parts = [resume.summary or "", *resume.skills, *resume.certifications]
    for entry in resume.experience:
        parts.extend([entry.title or "", *entry.bullets])
    for school in resume.education:
        parts.extend([school.degree or "", school.field or ""])
    return "\n".join(part for part in parts if part)


def score_resume(resume: ResumeContent, posting: JobPosting) -> ScoreReport:
    """Score ``resume`` against ``posting``; see the module docstring for the parts."""
    keywords = posting_keywords(posting)
    text = searchable_text(resume)
    found = {hit.canonical: hit.surface for hit in default_catalog().find(text)}
    grams = word_ngrams(text)
    report = ScoreReport(score=0, keywords=keywords)
    credit = 0.0
    for keyword in keywords:
        match, surface = _find(keyword, text, found, grams)
        report.matches[keyword.name] = match
        if surface:
            report.surfaces[keyword.name] = surface
        credit += keyword.weight * {
            "literal": 1.0,
            "alias": ALIAS_CREDIT,
            "fuzzy": FUZZY_CREDIT,
        }.get(match, 0.0)
    total = sum(keyword.weight for keyword in keywords)
    report.components = {
        "keywords": credit / total if total else 0.0,
        "skills": _skills_share(resume, keywords, report),
        "title": _title_fit(resume, posting),
        "sections": _sections_share(resume),
        "contact": _contact_share(resume),
    }
    report.score = round(
        100 * sum(WEIGHTS[part] * value for part, value in report.components.items())
    )
    return report


def _find(
    keyword: Keyword, text: str, found: dict[str, str], grams: set[str]
) -> tuple[Match, str | None]:
    for spelling in keyword.spellings:
        if contains_phrase(text, spelling):
            return "literal", spelling
    if keyword.name in found:
        return "alias", found[keyword.name]
    near = fuzzy_find(keyword.name, grams)
    return ("fuzzy", near) if near else ("missing", None)


def _skills_share(resume: ResumeContent, keywords: list[Keyword], report: ScoreReport) -> float:
    evidenced = [k for k in keywords if report.matches[k.name] in ("literal", "alias")]
    if not evidenced:
        return 0.0
    listed = "\n".join(resume.skills)
    weight = sum(
        k.weight for k in evidenced if any(contains_phrase(listed, s) for s in k.spellings)
    )
    return weight / sum(k.weight for k in evidenced)


def _title_fit(resume: ResumeContent, posting: JobPosting) -> float:
    if not posting.title:
        return NEUTRAL_TITLE
    ratios = [
        fuzz.token_set_ratio(posting.title.lower(), entry.title.lower()) / 100
        for entry in resume.experience
        if entry.title
    ]
    return max(ratios, default=0.0)


def _sections_share(resume: ResumeContent) -> float:
    present = [
        bool(resume.summary),
        bool(resume.experience),
        bool(resume.education),
        bool(resume.skills),
    ]
    return sum(present) / len(present)


def _contact_share(resume: ResumeContent) -> float:
    contact = resume.contact
    present = [bool(contact.name), bool(contact.email), bool(contact.phone)]
    return sum(present) / len(present)
