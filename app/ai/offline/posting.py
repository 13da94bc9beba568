"""Job page HTML → :class:`JobPosting`: JSON-LD first, then what the page shows.

Structured data is what the publisher wrote for search engines, so its fields win. The page
heuristics always run too (they are cheap) and fill what JSON-LD left out: title from ``<h1>``,
``og:title`` or ``<title>``; company from the caller's hint, ``og:site_name`` or the title's
suffix; location, employment type and salary from the visible text; responsibilities and
requirements from the sections under their headings.

The company hint outranks ``og:site_name`` because boards hosted by an ATS often name the ATS
there ("Greenhouse"), while the hint comes from the user who knows whom they are applying to.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bs4 import BeautifulSoup, Tag

from app.ai.offline import jsonld
from app.ai.offline.keywords import default_catalog
from app.ai.offline.markup import NOISE_TAGS, Block, html_blocks, parse_fragment, render
from app.ai.offline.markup import split_buckets as buckets_of
from app.ai.schemas import (
    ExtractionMeta,
    JobPosting,
    JobPostingContent,
    Salary,
    SourceReliability,
)

if TYPE_CHECKING:
    from app.documents.limits import Limits

_TITLE_SPLIT = re.compile(r"(?<!\s)\s+(?:\||-|\u2013|\u2014|·|at)\s+")
_CAREERS_WORDS = re.compile(r"\b(?:careers?|jobs?|hiring|job board|recruiting)\b", re.I)
_LOCATION_LABEL = re.compile(r"\blocation\s*:\s*([^·|•\n]+)", re.I)
_EMPLOYMENT = (
    ("full-time", re.compile(r"\bfull[- ]?time\b", re.I)),
    ("part-time", re.compile(r"\bpart[- ]?time\b", re.I)),
    ("contract", re.compile(r"\b(?:contract|contractor|freelance)\b", re.I)),
    ("temporary", re.compile(r"\btemporary\b", re.I)),
    ("internship", re.compile(r"\binternship\b", re.I)),
)
_CURRENCY = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}
_AMOUNT = r"\d{1,3}(?:[,.\s]\d{3})+|\d+(?:\.\d+)?"
_SALARY = re.compile(
    rf"(?P<cur>[$€£¥₹]|\b(?:USD|EUR|GBP|CAD|AUD|CHF|SEK|INR)\b)\s?(?P<low>{_AMOUNT})\s?(?P<klow>[kK])?"
    rf"\s*(?:-|\u2013|\u2014|to)\s*(?:[$€£¥₹]|\b(?:USD|EUR|GBP|CAD|AUD|CHF|SEK|INR)\b)?\s?"
    rf"(?P<high>{_AMOUNT})\s?(?P<khigh>[kK])?"
    r"(?:\s*(?:USD|EUR|GBP|CAD|AUD|CHF))?"
    r"(?:\s*(?:per|a|an|/)\s*(?P<per>year|yr|annum|month|mo|week|wk|day|hour|hr)\b"
    r"|\s*(?P<adverb>annually|yearly|monthly|weekly|daily|hourly)\b)?",
)
_PERIOD_WORDS = {
    "year": "year", "yr": "year", "annum": "year", "annually": "year", "yearly": "year",
    "month": "month", "mo": "month", "monthly": "month", "week": "week", "wk": "week",
    "weekly": "week", "day": "day", "daily": "day", "hour": "hour", "hr": "hour",
    "hourly": "hour",
}  # fmt: skip
_REMOTE = re.compile(r"\b(?:fully remote|remote[- ]first|100% remote|remote)\b", re.I)
_NOT_REMOTE = re.compile(r"\b(?:hybrid|on[- ]?site|in[- ]office)\b", re.I)
MAX_LIST_ITEMS = 60
MAX_ITEM_CHARS = 1000
HEAD_TEXT_CHARS = 3000  # employment type and remote are stated near the top, not in the footer


@dataclass(frozen=True, slots=True)
class PageReading:
    """One read of a job page: the posting, and the page's title and main content as text (what
    a model is given to read when the posting has gaps)."""

    posting: JobPosting
    text: str

    def to_json(self) -> dict[str, Any]:
        """Plain values for the page-reading child's reply."""
        return {"posting": self.posting.model_dump(mode="json"), "text": self.text}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> PageReading:
        """The reading a child replied with; ``KeyError`` or ``ValidationError`` if mangled."""
        return cls(posting=JobPosting.model_validate(value["posting"]), text=str(value["text"]))


def read_job_page(
    data: bytes, limits: Limits, *, url: str | None, company_hint: str | None
) -> PageReading:
    """The page-reading child's reader (``app.documents.child``): UTF-8 bytes of a fetched page.

    Text is cut at ``limits.max_chars``, lists at ``MAX_LIST_ITEMS`` of ``MAX_ITEM_CHARS``: a
    page with more is not a job posting, and the reading must fit the child's reply.
    """
    reading = read_page(data.decode("utf-8", errors="replace"), url, company_hint)
    posting = reading.posting
    posting.description = posting.description and posting.description[: limits.max_chars]
    posting.responsibilities = _bounded(posting.responsibilities)
    posting.requirements = _bounded(posting.requirements)
    posting.skills = _bounded(posting.skills)
    return PageReading(posting=posting, text=reading.text[: limits.max_chars])


def _bounded(items: list[str]) -> list[str]:
    return [item[:MAX_ITEM_CHARS] for item in items[:MAX_LIST_ITEMS]]


def extract_posting(page: str, url: str | None, company_hint: str | None) -> JobPosting:
    """Read a job page into a :class:`JobPosting` with provenance."""
    return read_page(page, url, company_hint).posting


def read_page(page: str, url: str | None, company_hint: str | None) -> PageReading:
    """Read a job page once: the posting with provenance, and the page's text."""
    soup = BeautifulSoup(page, "lxml")
    elements = _Elements(soup)
    structured = jsonld.job_postings(elements.all("script"))
    posting = _from_page(soup, elements, company_hint)
    text = "\n\n".join(part for part in (posting.title, posting.description) if part)
    method, reliability = "page-heuristics", SourceReliability.LOW
    if structured:
        _apply_json_ld(posting, structured[0])
        method, reliability = "json-ld", SourceReliability.HIGH
    elif posting.title and (posting.requirements or posting.responsibilities):
        reliability = SourceReliability.MEDIUM
    posting.url = url
    posting.company = posting.company or company_hint
    posting.skills = _skills(posting, posting.skills)
    posting.meta = ExtractionMeta(
        method=method,
        confidence_score=_confidence(posting, structured=bool(structured)),
        source_reliability=reliability,
    )
    return PageReading(posting=posting, text=text)


class _Elements:
    """The page's elements by tag name, in document order, from one walk of the tree.

    Each ``soup.find`` of an absent tag walks the whole tree, and reading a page asked for
    fourteen; on a page of 80,000 elements that was 40 % of the time. Elements removed since
    (``decompose``) are skipped, so a lookup sees the page as it is now.
    """

    def __init__(self, soup: BeautifulSoup) -> None:
        self._by_name: dict[str, list[Tag]] = {}
        self._main_role: list[Tag] = []
        for node in soup.descendants:
            if isinstance(node, Tag):
                self._by_name.setdefault(node.name, []).append(node)
                if node.attrs.get("role") == "main":
                    self._main_role.append(node)

    def all(self, *names: str) -> list[Tag]:
        """The elements with these names: in page order for each name, name after name."""
        return [tag for name in names for tag in self._by_name.get(name, ()) if not tag.decomposed]

    def first(self, name: str) -> Tag | None:
        return next((tag for tag in self._by_name.get(name, ()) if not tag.decomposed), None)

    def main(self) -> Tag | None:
        """The page's main content: ``<main>``, else ``role="main"``, else ``<article>``."""
        roles = (tag for tag in self._main_role if not tag.decomposed)
        return self.first("main") or next(roles, None) or self.first("article")

    def meta(self, name: str) -> str | None:
        """The ``content`` of ``<meta property=name>``, else of ``<meta name=name>``."""
        metas = self.all("meta")
        tag = next((tag for tag in metas if tag.attrs.get("property") == name), None)
        tag = tag or next((tag for tag in metas if tag.attrs.get("name") == name), None)
        content = str(tag.get("content") or "").strip() if tag is not None else ""
        return content or None


def _from_page(soup: BeautifulSoup, elements: _Elements, company_hint: str | None) -> JobPosting:
    """What the visible page says, without structured data."""
    heading = elements.first("h1")
    title = heading.get_text(" ", strip=True) if heading is not None else None
    page_title = _page_title(elements.first("title"))
    title = title or elements.meta("og:title") or (page_title[0] if page_title else None)
    company = company_hint or elements.meta("og:site_name")
    if company is None and page_title and len(page_title) > 1:
        company = _CAREERS_WORDS.sub("", page_title[-1]).strip(" -|") or None
    for element in elements.all(*NOISE_TAGS, "footer", "aside"):
        if not element.decomposed:  # not inside one removed before it
            element.decompose()
    for element in elements.all("header"):
        if not element.decomposed and element.find("h1") is None:
            element.decompose()
    main = elements.main()
    container = main if main is not None else (soup.body or soup)
    blocks = [
        block
        for block in html_blocks(container)
        if not (block.kind == "heading" and block.text == title)
    ]
    text = render(blocks)
    head = text[:HEAD_TEXT_CHARS]
    location = _location(head)
    buckets = buckets_of(blocks)
    return JobPosting(
        title=title,
        company=company,
        location=location,
        remote=_remote(location or "", head),
        employment_type=_employment_type(head),
        salary=salary_in(text),
        description=text or elements.meta("description"),
        responsibilities=buckets.responsibilities,
        requirements=buckets.requirements,
    )


def _apply_json_ld(posting: JobPosting, data: dict[str, Any]) -> None:
    """Overwrite the page's guesses with what the structured data states."""
    posting.title = jsonld.text_of(data.get("title")) or posting.title
    organization = data.get("hiringOrganization")
    posting.company = jsonld.text_of(organization) or posting.company
    posting.location = jsonld.location_of(data) or posting.location
    remote = jsonld.is_remote(data)
    posting.remote = remote if remote is not None else _remote(posting.location or "", "")
    posting.employment_type = (
        jsonld.employment_type_of(data.get("employmentType")) or posting.employment_type
    )
    posting.salary = jsonld.salary_of(data) or posting.salary
    raw = jsonld.text_of(data.get("description")) or ""
    if "&lt;" in raw or "&gt;" in raw:
        raw = html.unescape(raw)  # double-encoded by the publisher's template
    blocks = parse_fragment(raw) if raw else []
    if blocks:
        posting.description = render(blocks)
        buckets = buckets_of(blocks)
        posting.responsibilities = buckets.responsibilities or posting.responsibilities
        posting.requirements = buckets.requirements or posting.requirements
    posting.responsibilities = posting.responsibilities or _listed(data.get("responsibilities"))
    posting.requirements = posting.requirements or [
        *_listed(data.get("qualifications")),
        *_listed(data.get("experienceRequirements")),
        *_listed(data.get("educationRequirements")),
    ]
    posting.skills = jsonld.strings_of(data.get("skills"))


def _listed(value: Any) -> list[str]:
    """A schema.org text field that may hold HTML bullets, plain text or a list."""
    if isinstance(value, list):
        return [text for item in value for text in _listed(item)]
    text = jsonld.text_of(value)
    if not text:
        return []
    blocks: list[Block] = parse_fragment(html.unescape(text))
    return [block.text for block in blocks if block.kind in ("bullet", "paragraph")]


def _page_title(tag: Tag | None) -> list[str] | None:
    if tag is None:
        return None
    text = tag.get_text(" ", strip=True)
    parts = [part.strip() for part in _TITLE_SPLIT.split(text) if part.strip()]
    return parts or None


def _location(text: str) -> str | None:
    match = _LOCATION_LABEL.search(text)
    return " ".join(match.group(1).split()).strip(" .") if match else None


def _remote(location: str, text: str) -> bool | None:
    if _REMOTE.search(location):
        return not _NOT_REMOTE.search(location)
    if _NOT_REMOTE.search(location):
        return False
    if _REMOTE.search(text):
        return True
    return None


def _employment_type(text: str) -> str | None:
    return next((kind for kind, pattern in _EMPLOYMENT if pattern.search(text)), None)


def salary_in(text: str) -> Salary | None:
    """The first pay range in the text (``$140k-$170k``, ``€85,000 to €100,000 per year``)."""
    match = _SALARY.search(text)
    if match is None:
        return None
    low = _amount(match["low"], match["klow"] or match["khigh"])
    high = _amount(match["high"], match["khigh"])
    currency = _CURRENCY.get(match["cur"], match["cur"].upper())
    word = (match["per"] or match["adverb"] or "").lower()
    return Salary(min=low, max=high, currency=currency, period=_PERIOD_WORDS.get(word))


def _amount(text: str, thousands: str | None) -> float:
    digits = re.sub(r"[,.\s](?=\d{3}(?:\D|$))", "", text)
    value = float(digits)
    return value * 1000 if thousands else value


def _skills(posting: JobPosting, stated: list[str]) -> list[str]:
    """Catalog skills in the posting, requirements first, then skills it lists outright."""
    catalog = default_catalog()
    text = "\n".join(
        [
            posting.title or "",
            *posting.requirements,
            *posting.responsibilities,
            posting.description or "",
        ]
    )
    found = catalog.names_in(text)
    for item in stated:
        name = catalog.canonical(item) or item
        if name not in found:
            found.append(name)
    return found


def completeness(posting: JobPostingContent) -> float:
    """Share of the fields a useful posting has that were found (0 to 1), whoever read it."""
    fields = [
        bool(posting.title),
        bool(posting.company),
        bool(posting.location) or posting.remote is not None,
        bool(posting.description),
        bool(posting.requirements or posting.responsibilities),
    ]
    return sum(fields) / len(fields)


def _confidence(posting: JobPosting, *, structured: bool) -> float:
    """:func:`completeness` scaled into a band by the method: structured data starts higher."""
    low, width = (0.6, 0.4) if structured else (0.2, 0.5)
    return round(low + width * completeness(posting), 2)
