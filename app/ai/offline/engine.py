"""The offline engine: deterministic, no network, no key; the default install's AI.

Parsing and scoring are CPU work of milliseconds to tens of milliseconds, run in a worker thread
so that a big input never stalls the event loop that also serves HTTP and SSE in the default
single-process mode. Job pages are read in the parser child instead (``app.documents.sandbox``):
a fetched page is untrusted, and 5 MB of tiny elements keeps BeautifulSoup busy for half a minute,
which a thread can neither bound nor stop. The child costs ~0.3 s of CPU to start (bs4, pydantic),
small beside fetching the page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anyio import to_thread

from app.ai.offline.evidence import unsupported
from app.ai.offline.posting import PageReading
from app.ai.offline.resume import parse_resume_text
from app.ai.offline.score import posting_keywords, score_resume
from app.ai.offline.tailoring import tailor
from app.ai.schemas import (
    ExtractionMeta,
    JobPosting,
    Optimization,
    Resume,
    ResumeContent,
    SourceReliability,
)
from app.documents.child import Wording
from app.documents.limits import Limits
from app.documents.sandbox import read_in_child

if TYPE_CHECKING:
    from app.ai.usage import TokenMeter

KEYWORDS_FOR_FULL_CONFIDENCE = 10

PAGE_LIMITS = Limits()
"""A fetched page is at most 5 MB (the fetcher's cap), so at most 10 MB once encoded as UTF-8."""
_ELSEWHERE = "Try the posting's own page, for example on the company's careers site."
PAGE_WORDING = Wording(
    label="job page",
    slow=f"it is too large or complex to read in time. {_ELSEWHERE}",
    crash=f"our reader stopped unexpectedly on it. {_ELSEWHERE}",
    memory=f"it needs far more memory to read than a job posting ever should. {_ELSEWHERE}",
    nesting=f"its markup is nested too deeply. {_ELSEWHERE}",
    damaged=f"its markup could not be read. {_ELSEWHERE}",
)


class OfflineEngine:
    """Heuristic parsing, JSON-LD and page extraction, keyword scoring and safe tailoring.

    It calls no model, so it spends no provider tokens and leaves any ``meter`` alone.
    ``page_limits`` bound the child that reads each job page."""

    def __init__(self, *, page_limits: Limits = PAGE_LIMITS) -> None:
        self._page_limits = page_limits

    async def parse_resume(self, text: str, *, meter: TokenMeter | None = None) -> Resume:
        return await to_thread.run_sync(parse_resume_text, text)

    async def extract_job(
        self, html: str, url: str, company_hint: str | None, *, meter: TokenMeter | None = None
    ) -> JobPosting:
        return (await self.read_job_page(html, url, company_hint)).posting

    async def read_job_page(self, html: str, url: str, company_hint: str | None) -> PageReading:
        """The posting and the page's text, read in a confined child process."""
        reply = await read_in_child(
            "job-page",
            html.encode(),
            self._page_limits,
            wording=PAGE_WORDING,
            args={"url": url, "company_hint": company_hint},
        )
        return PageReading.from_json(reply)

    async def optimize(
        self, resume: Resume, posting: JobPosting, *, meter: TokenMeter | None = None
    ) -> Optimization:
        return await to_thread.run_sync(optimize_offline, resume, posting)

    async def aclose(self) -> None:
        """Nothing to release; here so both engines share one lifecycle."""


def optimize_offline(resume: ResumeContent, posting: JobPosting) -> Optimization:
    """Tailor and score without a model."""
    before = score_resume(resume, posting)
    tailored, suggestions = tailor(resume, posting, before)
    return scored(resume, tailored, posting, suggestions, method="keyword-tailoring")


def scored(
    source: ResumeContent,
    tailored: ResumeContent,
    posting: JobPosting,
    suggestions: list[str],
    *,
    method: str,
) -> Optimization:
    """An :class:`Optimization` whose scores both come from the offline scorer.

    Shared by both engines so that ``scoreBefore`` and ``score`` mean the same everywhere. The
    tailored version is checked for unsupported claims here too, as a last line of defence: if
    anything slipped through, the source resume is returned unchanged.
    """
    if unsupported(source, tailored):
        tailored = source
    before = score_resume(source, posting)
    after = score_resume(tailored, posting)
    keyword_count = len(posting_keywords(posting))
    confidence = min(1.0, keyword_count / KEYWORDS_FOR_FULL_CONFIDENCE)
    return Optimization(
        score_before=before.score,
        score=after.score,
        matched_keywords=after.matched,
        missing_keywords=after.missing,
        tailored_resume=Resume.model_validate(tailored.model_dump(exclude={"meta"})),
        suggestions=suggestions,
        meta=ExtractionMeta(
            method=method,
            confidence_score=round(confidence, 2),
            source_reliability=(
                SourceReliability.MEDIUM
                if keyword_count >= KEYWORDS_FOR_FULL_CONFIDENCE / 2
                else SourceReliability.LOW
            ),
        ),
    )
