"""Dates as resumes write them, normalised to ``YYYY-MM`` or ``YYYY``.

Accepted: ``Jan 2020``, ``January 2020``, ``Sept. 2019``, ``01/2020``, ``2020-01``, ``2020``,
seasons (``Summer 2019`` → ``2019``), and for the end of a range ``Present``, ``Current``,
``Now``, ``Today`` or ``Ongoing`` (all → ``Present``). Ranges use hyphens, en or em dashes,
or ``to``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

PRESENT = "Present"

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_YEAR = r"(?:19[5-9]\d|20\d\d)"
_SEASON = r"(?:spring|summer|fall|autumn|winter)"
DATE = (
    rf"(?:{_MONTH}\s*,?\s*{_YEAR}|{_SEASON}\s+{_YEAR}|(?:0?[1-9]|1[0-2])/{_YEAR}"
    rf"|{_YEAR}[-/.](?:0[1-9]|1[0-2])(?!\d)|{_YEAR})"
)
_OPEN_END = r"(?:present|current(?:ly)?|now|today|ongoing|to date)"
_DASH = r"\s*(?:-|\u2013|\u2014|\u2212|~|\bto\b|\buntil\b|\bthrough\b)\s*"
RANGE = re.compile(
    rf"(?<![\w/])(?P<start>{DATE}){_DASH}(?P<end>{DATE}|{_OPEN_END})(?![\w/])",
    re.IGNORECASE,
)
SINGLE = re.compile(rf"(?<![\w/\-])(?P<date>{DATE}|{_OPEN_END})(?![\w/])", re.IGNORECASE)


@dataclass(frozen=True)
class DateRange:
    start: str | None
    end: str | None
    span: tuple[int, int]  # where it was found, so callers can cut it out of the line


def normalize(raw: str) -> str | None:
    """``Jan 2020`` → ``2020-01``; ``2020`` → ``2020``; ``present`` → ``Present``."""
    text = raw.strip().lower().rstrip(".")
    if re.fullmatch(_OPEN_END, text):
        return PRESENT
    year = re.search(_YEAR, text)
    if year is None:
        return None
    if match := re.match(r"([a-z]{3})", text):
        month = _MONTHS.get(match.group(1))
        return f"{year.group(0)}-{month:02d}" if month else year.group(0)
    if match := re.fullmatch(rf"(\d{{1,2}})/({_YEAR})", text):
        return f"{match.group(2)}-{int(match.group(1)):02d}"
    if match := re.fullmatch(rf"({_YEAR})[-/.](\d\d)", text):
        return f"{match.group(1)}-{match.group(2)}"
    return year.group(0)


def find_range(text: str) -> DateRange | None:
    """The first date range in ``text``; failing that, a lone date taken as the end."""
    if match := RANGE.search(text):
        return DateRange(normalize(match["start"]), normalize(match["end"]), match.span())
    if match := SINGLE.search(text):
        return DateRange(None, normalize(match["date"]), match.span())
    return None


def months_between(start: str | None, end: str | None, today: date) -> int | None:
    """Whole months from ``start`` to ``end`` (``Present`` = ``today``), or None if unknown."""
    first, last = _as_month(start, today), _as_month(end, today)
    if first is None or last is None or last < first:
        return None
    return last - first


def _as_month(value: str | None, today: date) -> int | None:
    if value is None:
        return None
    if value == PRESENT:
        return today.year * 12 + today.month - 1
    year, _, month = value.partition("-")
    return int(year) * 12 + (int(month) - 1 if month else 0)
