"""Offline tailoring: reorder and re-label what the resume already says, never add to it.

* The skills list leads with the posting's keywords that the resume gives evidence for,
  written as the posting writes them (``Kubernetes (k8s)`` where the resume said ``k8s``).
* A summary sentence names the most recent title and the strongest evidenced keywords, ahead
  of the author's own summary.
* Within each position, bullets that mention the posting's keywords come first; positions stay
  in their order, because reverse-chronological order is what recruiters expect.
* Suggestions say what only the candidate can add: missing keywords (if true), near-miss
  spellings, numbers for unquantified bullets, missing contact details or sections.
"""

from __future__ import annotations

from app.ai.offline.keywords import contains_phrase, default_catalog
from app.ai.offline.score import Keyword, ScoreReport
from app.ai.schemas import Experience, JobPosting, ResumeContent

SUMMARY_KEYWORDS = 4
MAX_MISSING_SUGGESTIONS = 8
MAX_QUANTIFY_SUGGESTIONS = 2
LOW_TITLE_FIT = 0.5


def tailor(
    resume: ResumeContent, posting: JobPosting, report: ScoreReport
) -> tuple[ResumeContent, list[str]]:
    """The tailored resume and the suggestions for the candidate."""
    evidenced = [k for k in report.keywords if report.matches[k.name] in ("literal", "alias")]
    tailored = resume.model_copy(deep=True)
    tailored.skills = _skills(resume.skills, evidenced)
    tailored.summary = _summary(resume, evidenced)
    tailored.experience = [_reorder(entry, report.keywords) for entry in resume.experience]
    return tailored, _suggestions(resume, posting, report)


def _skills(skills: list[str], evidenced: list[Keyword]) -> list[str]:
    catalog = default_catalog()
    by_canonical = {catalog.canonical(item) or item: item for item in skills}
    leading: list[str] = []
    for keyword in evidenced:
        written = by_canonical.pop(keyword.name, None)
        if written is None:
            leading.append(keyword.name)
        elif written.casefold() == keyword.name.casefold():
            leading.append(written)
        else:
            leading.append(f"{keyword.name} ({written})")
    listed = {item.casefold() for item in leading}
    rest = [item for item in by_canonical.values() if item.casefold() not in listed]
    return leading + rest


def _summary(resume: ResumeContent, evidenced: list[Keyword]) -> str | None:
    names = [keyword.name for keyword in evidenced[:SUMMARY_KEYWORDS]]
    title = next((entry.title for entry in resume.experience if entry.title), None)
    if not names:
        return resume.summary
    skills = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"
    opening = (
        f"{title} with hands-on experience in {skills}."
        if title
        else (f"Hands-on experience in {skills}.")
    )
    if resume.summary and opening.casefold() in resume.summary.casefold():
        return resume.summary
    return f"{opening} {resume.summary}" if resume.summary else opening


def _reorder(entry: Experience, keywords: list[Keyword]) -> Experience:
    def relevance(bullet: str) -> float:
        names = set(default_catalog().names_in(bullet))
        return sum(
            k.weight
            for k in keywords
            if k.name in names or any(contains_phrase(bullet, s) for s in k.spellings)
        )

    ordered = sorted(entry.bullets, key=relevance, reverse=True)  # stable: ties keep order
    return entry.model_copy(update={"bullets": ordered})


def _suggestions(resume: ResumeContent, posting: JobPosting, report: ScoreReport) -> list[str]:
    suggestions: list[str] = []
    missing = [k for k in report.keywords if report.matches[k.name] == "missing"]
    for keyword in missing[:MAX_MISSING_SUGGESTIONS]:
        where = "requires" if keyword.weight > 1 else "mentions"
        suggestions.append(
            f"The posting {where} {keyword.name}. If you have used it, name it in the bullet "
            "that shows where; if you have not, leave it out."
        )
    for keyword in report.keywords:
        surface = report.surfaces.get(keyword.name)
        if report.matches[keyword.name] == "fuzzy" and surface:
            suggestions.append(
                f"Your resume says '{surface}'. If you mean {keyword.name}, spell it the way the "
                "posting does, so that keyword searches find it."
            )
        elif report.matches[keyword.name] == "alias" and surface:
            suggestions.append(
                f"You wrote '{surface}' where the posting says '{keyword.name}'; the tailored "
                "skills list names both, consider doing so in your bullets too."
            )
    suggestions += _quantify(resume)
    contact = resume.contact
    if not contact.email or not contact.phone:
        suggestions.append("Add an email address and a phone number at the top of the resume.")
    if not resume.education:
        suggestions.append("Add an Education section, even a short one; ATS filters look for it.")
    if posting.title and report.components.get("title", 1.0) < LOW_TITLE_FIT:
        suggestions.append(
            f"None of your job titles resembles '{posting.title}'. If your work matches that "
            "role, say so in the summary in your own words."
        )
    return suggestions


def _quantify(resume: ResumeContent) -> list[str]:
    if not resume.experience:
        return []
    plain = [b for b in resume.experience[0].bullets if not any(c.isdigit() for c in b)]
    return [
        f"Add a number to '{_shorten(bullet)}' (how many, how much, how fast), if you know it."
        for bullet in plain[:MAX_QUANTIFY_SUGGESTIONS]
    ]


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
