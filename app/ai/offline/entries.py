"""Experience and education entries, read from the lines of their resume sections.

A position is anchored by its date range: the line that carries it, plus the short line before
it (``Company`` / ``Title   2019 - 2021``, as PDFs and Markdown write it), is the header; what
follows is bullets. Text without a bullet marker under a header is a bullet too, because PDF
extraction often loses the markers (notes/ai.md §4.1), and a line that continues a sentence
joins the bullet before it. Entries without any dates fall back to "a header line followed by
bullets".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.ai.offline.dates import find_range
from app.ai.offline.text import SENTENCE_END, Line, split_fields
from app.ai.schemas import Education, Experience

_ROLE = re.compile(
    r"\b(?:engineer|developer|programmer|manager|analyst|designer|director|lead|intern|"
    r"consultant|scientist|specialist|coordinator|architect|administrator|officer|associate|"
    r"head|vp|vice president|president|founder|co-founder|cto|ceo|cfo|coo|owner|nurse|"
    r"teacher|accountant|assistant|representative|executive|strategist|editor|writer|"
    r"researcher|technician|supervisor|tester|advisor|adviser|recruiter|marketer|clerk|"
    r"instructor|professor|lecturer|fellow|trainee|apprentice|principal|staff|senior|junior|"
    r"sre|devops|product owner|scrum master|partner|agent|operator|therapist|pharmacist)s?\b",
    re.IGNORECASE,
)
_COMPANY = re.compile(
    r"\b(?:inc|llc|ltd|limited|gmbh|corp|corporation|company|co|plc|ag|s\.?a|group|labs?|"
    r"technologies|technology|systems|solutions|bank|partners|studios?|agency|health|"
    r"hospital|university|college|foundation|ventures|capital|holdings|software|games)\b\.?",
    re.IGNORECASE,
)
_REGIONS = (
    r"[A-Z]{2}|USA|United States|United Kingdom|England|Scotland|Ireland|Canada|Germany|"
    r"France|Spain|Portugal|Italy|Netherlands|Belgium|Switzerland|Austria|Sweden|Norway|"
    r"Denmark|Finland|Poland|India|China|Japan|Singapore|Australia|New Zealand|Brazil|Mexico|"
    r"Argentina|Israel|South Africa|Nigeria|Kenya|Egypt|UAE|United Arab Emirates|Philippines"
)
LOCATION = re.compile(
    rf"^(?:(?:Remote|Hybrid|On-?site)(?:\s*\([^)]*\))?|[A-Z][\w.'\-]*(?:\s[A-Z][\w.'\-]*)*,\s*"
    rf"(?:{_REGIONS})(?:\s*\((?:Remote|Hybrid|On-?site)\))?)$"
)
# Starts at a word's start and takes at most eight words before the keyword: tried at every
# capital of a long line of capitalized words, an unbounded run was quadratic.
_INSTITUTION = re.compile(
    r"(?<![\w.&'\-])(?:[A-Z][\w.&'\-]*\s+){0,8}(?:University|College|Institute|School|Academy|Polytechnic|"
    r"Conservatory|Universidade|Universidad|Universität|Université|Università|Hochschule)"
    r"(?:\s+(?:of|for|de|do|da|at|in|and|&|the)\b)*(?:\s+[A-Z][\w.&'\-]*(?:\s+(?:of|and|&)"
    r"\s+[A-Z][\w.&'\-]*)*)*"
)
_DEGREE = re.compile(
    r"(?<![\w.])(?:Ph\.?\s?D\.?|D\.?Phil\.?|Doctor(?:ate)?(?:\sof\s[A-Z]\w+)?|M\.?B\.?A\.?|"
    r"M\.?Sc\.?|M\.S\.|MS|M\.?A\.|MA|M\.?Eng\.?|M\.?Tech|B\.?Sc\.?|B\.S\.|BS|B\.A\.|BA|"
    r"B\.?Eng\.?|B\.?Tech|Bachelor(?:'s)?(?:\s(?:of|in)\s[A-Z]\w+(?:\s[A-Z]\w+)?)?|"
    r"Master(?:'s)?(?:\s(?:of|in)\s[A-Z]\w+(?:\s[A-Z]\w+)?)?|Associate(?:'s)?\s(?:Degree|of\s\w+)|"
    r"A\.A\.S?\.?|High School Diploma|Diploma|GED|J\.D\.|LL\.?M\.?|LL\.?B\.?)(?![\w])"
)

MAX_HEADER_WORDS = 16  # a longer line with a date in it is a sentence, not a job header
_FIELD_PUNCTUATION = " ,|·-\u2013\u2014()"  # what may surround a header's fields


@dataclass
class _Entry:
    header: list[str]
    start: str | None = None
    end: str | None = None
    bullets: list[str] = field(default_factory=list)


def read_experience(lines: list[Line]) -> list[Experience]:
    """Positions in an experience section, in the order written."""
    header_at = _header_lines(lines)
    entries: list[_Entry] = []
    paragraph_open = False  # whether a non-blank line may continue the last bullet
    for index, line in enumerate(lines):
        if line.blank:
            paragraph_open = False
            continue
        if index in header_at:
            anchor = header_at[index]
            if anchor is not None:
                entries.append(_Entry(header=[], start=anchor[0], end=anchor[1]))
            if entries:
                entries[-1].header.append(line.text)
            paragraph_open = False
            continue
        if not entries:
            continue  # an intro line before the first position
        bullets = entries[-1].bullets
        if not line.bullet and paragraph_open and bullets and _continues(bullets[-1], line.text):
            bullets[-1] = f"{bullets[-1]} {line.text}"
        else:
            bullets.append(line.text)
        paragraph_open = True
    return [_experience(entry) for entry in entries]


def _header_lines(lines: list[Line]) -> dict[int, tuple[str | None, str | None] | None]:
    """Indices of header lines; the first line of each header maps to its (start, end) dates."""
    anchors = [
        (i, dates)
        for i, line in enumerate(lines)
        if not line.bullet
        and not line.blank
        and len(line.text.split()) <= MAX_HEADER_WORDS
        and (dates := find_range(line.text)) is not None
    ]
    if not anchors:
        return _undated_headers(lines)
    headers: dict[int, tuple[str | None, str | None] | None] = {}
    for anchor, dates in anchors:
        rest = lines[anchor].text[: dates.span[0]] + lines[anchor].text[dates.span[1] :]
        wanted = 2 if not rest.strip(_FIELD_PUNCTUATION) else 1
        first = anchor
        while wanted and first - 1 >= 0 and _header_like(lines[first - 1]):
            first -= 1
            wanted -= 1
        group = list(range(first, anchor + 1))
        after = anchor + 1
        if len(_parts(lines, group)) < 2 and after < len(lines) and _header_like(lines[after]):
            group.append(after)
        headers[group[0]] = (dates.start, dates.end)
        for index in group[1:]:
            headers[index] = None
    return headers


def _undated_headers(lines: list[Line]) -> dict[int, tuple[str | None, str | None] | None]:
    """Without dates: a short plain line directly followed by a bullet opens an entry."""
    return {
        i: (None, None)
        for i, line in enumerate(lines[:-1])
        if not line.bullet and not line.blank and lines[i + 1].bullet and _short(line.text)
    }


def _header_like(line: Line) -> bool:
    return (
        not line.blank
        and not line.bullet
        and _short(line.text)
        and not line.text.endswith(SENTENCE_END)
        and find_range(line.text) is None
    )


def _short(text: str) -> bool:
    return len(text.split()) <= 10


def _continues(previous: str, text: str) -> bool:
    """Whether ``text`` is the wrapped rest of the sentence in ``previous``."""
    return text[:1].islower() or not previous.rstrip().endswith(SENTENCE_END)


def _parts(lines: list[Line], group: list[int]) -> list[str]:
    parts: list[str] = []
    for index in group:
        text = lines[index].text
        if dates := find_range(text):
            text = text[: dates.span[0]] + "  " + text[dates.span[1] :]
        parts.extend(part for part in split_fields(text) if part.strip(" ()"))
    return parts


def _experience(entry: _Entry) -> Experience:
    text = "   ".join(entry.header)
    if dates := find_range(text):
        text = text[: dates.span[0]] + "   " + text[dates.span[1] :]
    title, company, location = _roles(split_fields(text.strip(_FIELD_PUNCTUATION)))
    return Experience(
        title=title,
        company=company,
        location=location,
        start_date=entry.start,
        end_date=entry.end,
        bullets=entry.bullets,
    )


def _roles(parts: list[str]) -> tuple[str | None, str | None, str | None]:
    """Tell title, company and location apart in the fields of a header."""
    location = None
    fields: list[str] = []
    for raw in parts:
        part = raw.strip(" ,()")
        if location is None and LOCATION.match(part) and not _ROLE.search(part):
            location = part
            continue
        pieces = _split_commas(part)
        for piece in pieces:
            if location is None and LOCATION.match(piece) and not _ROLE.search(piece):
                location = piece
            else:
                fields.extend(_split_at(piece))
    title = next((f for f in fields if _ROLE.search(f) and not _COMPANY.search(f)), None)
    title = title or next((f for f in fields if _ROLE.search(f)), None)
    rest = [f for f in fields if f != title]
    company = next((f for f in rest if _COMPANY.search(f)), None) or (rest[0] if rest else None)
    if title is None and rest:
        leftovers = [f for f in rest if f != company]
        title = leftovers[0] if leftovers else None
    return title, company, location


def _split_commas(part: str) -> list[str]:
    """``Acme, San Francisco, CA`` → ``Acme`` + ``San Francisco, CA``; else split on commas
    only when the pieces are a role and an employer (``Data Analyst, Northwind``)."""
    head, sep, tail = part.partition(", ")
    if not sep:
        return [part]
    if LOCATION.match(tail):
        return [head, tail]
    if LOCATION.match(part):
        return [part]
    if re.fullmatch(r"(?:Inc|LLC|Ltd|Co|Corp|GmbH|PLC|S\.?A)\.?", tail.split(",")[0].strip()):
        return [part]  # "Shoply, Inc." is one name
    return [piece.strip() for piece in part.split(",") if piece.strip()]


def _split_at(piece: str) -> list[str]:
    """``Engineer at Acme`` / ``Engineer @ Acme`` → two fields."""
    match = re.match(r"^(.+?)\s+(?:at|@)\s+(.+)$", piece)
    if match and _ROLE.search(match.group(1)):
        return [match.group(1), match.group(2)]
    return [piece]


# --- education ---------------------------------------------------------------------------------


def read_education(lines: list[Line]) -> list[Education]:
    """Schools and degrees: a new entry starts when a second institution or degree appears."""
    entries: list[Education] = []
    current = Education()
    for line in lines:
        if line.blank:
            continue
        text = line.text
        start = end = None
        if dates := find_range(text):
            start, end = dates.start, dates.end
            text = (text[: dates.span[0]] + text[dates.span[1] :]).strip(_FIELD_PUNCTUATION)
        institution = _institution(text)
        degree, field_name = _degree(text.replace(institution or "\0", " "))
        if (institution and current.institution) or (degree and current.degree):
            entries.append(current)
            current = Education()
        current.institution = current.institution or institution
        current.degree = current.degree or degree
        current.field = current.field or field_name
        if start or end:
            current.start_date = current.start_date or start
            current.end_date = current.end_date or end
    entries.append(current)
    return [entry for entry in entries if entry.institution or entry.degree]


def _institution(text: str) -> str | None:
    match = _INSTITUTION.search(text)
    if match is None:
        return None
    name = match.group(0).strip()
    # A campus after a comma belongs to the name when the line is only the institution.
    remainder = text[match.end() :].strip()
    campus = re.fullmatch(r",\s*([A-Z][\w.'\-]*(?:\s[A-Z][\w.'\-]*)*)\s*,?", remainder)
    if campus and not _DEGREE.search(remainder):
        name = f"{name}, {campus.group(1)}"
    return name


def _degree(text: str) -> tuple[str | None, str | None]:
    match = _DEGREE.search(text)
    if match is None:
        return None, None
    degree = match.group(0).strip()
    after = text[match.end() :]
    field_match = re.match(
        r"\s*(?:,\s*|\s+in\s+|\s+of\s+|\s*[-\u2013\u2014:]\s*|\s+)([A-Z][^,|·;()]*)", after
    )
    field_name = field_match.group(1).strip(" .") if field_match else None
    inner = re.match(r"^(?:Bachelor|Master)(?:'s)?\s(?:of|in)\s", degree)
    if inner and field_name is None and degree.endswith(("Arts", "Science", "Engineering")):
        return degree, None
    return degree, field_name or None
