"""schema.org ``JobPosting`` in JSON-LD: finding it, forgiving its syntax, reading its fields.

Publishers write JSON-LD by hand or by template, so real pages carry raw tabs and newlines inside
strings, trailing commas and ``//`` comments, and wrap the posting in ``@graph`` or in another
entity (notes/ai.md §5). ``json.loads(strict=False)`` takes the control characters; comments and
trailing commas are removed on a second try; the walk finds ``@type`` ``JobPosting`` (a string or
a list) at any depth.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from bs4 import Tag

from app.ai.schemas import Salary

MAX_DEPTH = 8
_EMPLOYMENT_TYPES = {
    "FULL_TIME": "full-time",
    "PART_TIME": "part-time",
    "CONTRACTOR": "contract",
    "CONTRACT": "contract",
    "TEMPORARY": "temporary",
    "INTERN": "internship",
    "INTERNSHIP": "internship",
    "PER_DIEM": "per-diem",
    "VOLUNTEER": "volunteer",
    "OTHER": "other",
}
PERIODS = {
    "YEAR": "year", "ANNUAL": "year", "YEARLY": "year", "MONTH": "month", "WEEK": "week",
    "DAY": "day", "HOUR": "hour", "HOURLY": "hour",
}  # fmt: skip


def job_postings(scripts: Iterable[Tag]) -> list[dict[str, Any]]:
    """Every JobPosting object in the page's JSON-LD scripts (its ``<script>`` elements), in
    page order."""
    found: list[dict[str, Any]] = []
    for script in scripts:
        kind = str(script.get("type") or "").lower()
        if "ld+json" not in kind:
            continue
        data = _loads(script.string or script.get_text())
        if data is not None:
            found.extend(_walk(data, 0))
    return found


def _loads(raw: str) -> Any:
    raw = raw.strip().removeprefix("<!--").removesuffix("-->").strip()
    try:
        return json.loads(raw, strict=False)
    except json.JSONDecodeError:
        pass
    cleaned = re.sub(r"(?m)^\s*//.*$", "", raw)  # whole-line comments only: URLs contain //
    cleaned = re.sub(r"/\*.*?\*/", "", cleaned, flags=re.S)
    cleaned = re.sub(r",(\s*[}\]])", r"\1", cleaned)
    try:
        return json.loads(cleaned, strict=False)
    except json.JSONDecodeError:
        return None


def _walk(node: Any, depth: int) -> Iterator[dict[str, Any]]:
    if depth > MAX_DEPTH:
        return
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, depth + 1)
    elif isinstance(node, dict):
        kinds = node.get("@type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if any(str(kind).rsplit("/", 1)[-1] == "JobPosting" for kind in kinds):
            yield node
            return
        for value in node.values():
            if isinstance(value, dict | list):
                yield from _walk(value, depth + 1)


def text_of(value: Any) -> str | None:
    """A plain string from a string, a ``{"name": …}`` entity or a list of them."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        return text_of(value.get("name") or value.get("@value"))
    if isinstance(value, list):
        parts = [part for part in (text_of(item) for item in value) if part]
        return ", ".join(parts) or None
    if isinstance(value, int | float):
        return str(value)
    return None


def strings_of(value: Any) -> list[str]:
    """A list of strings from a string (comma-separated), or a list of strings or entities."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [text for item in value for text in strings_of(item)]
    text = text_of(value)
    return [text] if text else []


def location_of(posting: dict[str, Any]) -> str | None:
    """``jobLocation`` (one place or several) as ``Locality, Region, Country``; ``; `` between."""
    places = posting.get("jobLocation")
    places = places if isinstance(places, list) else [places]
    found: list[str] = []
    for place in places:
        if isinstance(place, str):
            found.append(place.strip())
            continue
        if not isinstance(place, dict):
            continue
        address = place.get("address")
        if isinstance(address, str):
            found.append(address.strip())
        elif isinstance(address, dict):
            parts = [
                text_of(address.get(key))
                for key in ("addressLocality", "addressRegion", "addressCountry")
            ]
            found.append(", ".join(dict.fromkeys(part for part in parts if part)))
        elif name := text_of(place.get("name")):
            found.append(name)
    text = "; ".join(dict.fromkeys(place for place in found if place))
    return text or None


def is_remote(posting: dict[str, Any]) -> bool | None:
    """True when the posting says ``TELECOMMUTE``; unknown otherwise (absence proves nothing)."""
    kinds = strings_of(posting.get("jobLocationType"))
    return True if any("TELECOMMUTE" in kind.upper() for kind in kinds) else None


def employment_type_of(value: Any) -> str | None:
    kinds = [
        _EMPLOYMENT_TYPES.get(kind.upper().replace("-", "_").replace(" ", "_"), kind.lower())
        for kind in strings_of(value)
    ]
    return ", ".join(dict.fromkeys(kinds)) or None


def salary_of(posting: dict[str, Any]) -> Salary | None:
    """``baseSalary`` (or ``estimatedSalary``): a MonetaryAmount, its QuantitativeValue, or a
    bare number."""
    amount = posting.get("baseSalary") or posting.get("estimatedSalary")
    if isinstance(amount, list):
        amount = amount[0] if amount else None
    if isinstance(amount, int | float | str):
        number = _number(amount)
        return Salary(min=number, max=number) if number is not None else None
    if not isinstance(amount, dict):
        return None
    currency = text_of(amount.get("currency")) or text_of(posting.get("salaryCurrency"))
    value = amount.get("value", amount)
    unit = None
    low = high = None
    if isinstance(value, dict):
        low = _number(value.get("minValue"))
        high = _number(value.get("maxValue"))
        single = _number(value.get("value"))
        low, high = (low or single), (high or single)
        unit = text_of(value.get("unitText"))
    else:
        low = high = _number(value)
    unit = unit or text_of(amount.get("unitText"))
    if low is None and high is None:
        return None
    period = PERIODS.get(unit.upper(), unit.lower()) if unit else None
    return Salary(min=low, max=high, currency=currency.upper() if currency else None, period=period)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        cleaned = re.sub(r"[^\d.]", "", value)
        try:
            return float(cleaned) if cleaned else None
        except ValueError:
            return None
    return None
