"""Does a tailored resume claim anything its source does not?

Tailoring may reorder, rephrase and emphasise; it may not add an employer, a title, a date, a
degree, a certificate, a number or a skill the candidate never mentioned. :func:`unsupported`
lists every such claim. The offline tailoring passes it by construction; a model's tailoring is
checked with it and rejected (then retried or replaced) when anything is listed.
"""

from __future__ import annotations

import re

from app.ai.offline.keywords import default_catalog
from app.ai.offline.score import searchable_text
from app.ai.schemas import Experience, ResumeContent

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def unsupported(source: ResumeContent, tailored: ResumeContent) -> list[str]:
    """Claims in ``tailored`` without support in ``source``, in words an operator can read."""
    problems: list[str] = []
    known = {_position_key(entry) for entry in source.experience}
    kept = {_position_key(entry) for entry in tailored.experience}
    problems += [f"position not in the source: {_show(key)}" for key in kept - known]
    problems += [f"position left out: {_show(key)}" for key in known - kept]
    schools = {_fold(school.institution) for school in source.education}
    problems += [
        f"education not in the source: {school.institution}"
        for school in tailored.education
        if _fold(school.institution) not in schools
    ]
    certificates = {_fold(item) for item in source.certifications}
    problems += [
        f"certification not in the source: {item}"
        for item in tailored.certifications
        if _fold(item) not in certificates
    ]
    source_text, tailored_text = searchable_text(source), searchable_text(tailored)
    source_numbers = {_plain(number) for number in _NUMBER.findall(_all_text(source))}
    problems += [
        f"number not in the source: {number}"
        for number in dict.fromkeys(_NUMBER.findall(tailored_text))
        if _plain(number) not in source_numbers
    ]
    catalog = default_catalog()
    source_skills = set(catalog.names_in(source_text))
    problems += [
        f"skill not in the source: {name}"
        for name in catalog.names_in(tailored_text)
        if name not in source_skills
    ]
    return problems


def _position_key(entry: Experience) -> tuple[str, str, str, str]:
    return (
        _fold(entry.company),
        _fold(entry.title),
        _fold(entry.start_date),
        _fold(entry.end_date),
    )


def _show(key: tuple[str, str, str, str]) -> str:
    company, title, start, end = key
    return f"{title or '?'} at {company or '?'} ({start or '?'} to {end or '?'})"


def _fold(value: str | None) -> str:
    return " ".join((value or "").casefold().split())


def _plain(number: str) -> str:
    return re.sub(r"[.,]", "", number)


def _all_text(resume: ResumeContent) -> str:
    """Everything in the source, dates and employers included: a number may come from them."""
    parts = [searchable_text(resume)]
    for entry in resume.experience:
        parts.extend([entry.company or "", entry.start_date or "", entry.end_date or ""])
    for school in resume.education:
        parts.extend([school.institution or "", school.start_date or "", school.end_date or ""])
    return "\n".join(parts)
