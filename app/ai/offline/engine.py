"""The offline engine: deterministic, no network, no key; the default install's AI.

Parsing and scoring are CPU work of milliseconds to tens of milliseconds (BeautifulSoup on a
large page), run in a worker thread so that a big input never stalls the event loop that also
serves HTTP and SSE in the default single-process mode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anyio import to_thread

from app.ai.offline.evidence import unsupported
from app.ai.offline.posting import extract_posting
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

if TYPE_CHECKING:
    from app.ai.usage import TokenMeter

KEYWORDS_FOR_FULL_CONFIDENCE = 10


class OfflineEngine:
    """Heuristic parsing, JSON-LD and page extraction, keyword scoring and safe tailoring.

    It calls no model, so it spends no provider tokens and leaves any ``meter`` alone."""

    async def parse_resume(self, text: str, *, meter: TokenMeter | None = None) -> Resume:
        return await to_thread.run_sync(parse_resume_text, text)

    async def extract_job(
        self, html: str, url: str, company_hint: str | None, *, meter: TokenMeter | None = None
    ) -> JobPosting:
        return await to_thread.run_sync(extract_posting, html, url, company_hint)

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
