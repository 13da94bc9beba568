"""``python -m bench.operations``: how long each step of the three operations takes on the
bundled fixtures, with the offline engine (median of 5 runs). PDFs, DOCX files and job pages are
read in a child process each, and its start-up (~0.1-0.3 s of imports) is part of the figure."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from app.ai.offline.engine import OfflineEngine
from app.documents import extract_text
from tests.api.test_operations import pdf_of
from tests.fixtures.ai_samples import (
    HEURISTIC_POSTING,
    HEURISTIC_POSTING_URL,
    JSONLD_POSTING,
    JSONLD_POSTING_URL,
    PDF_TEXT_RESUME,
    PLAIN_RESUME,
)
from tests.fixtures.documents import resume_docx, two_column_pdf

T = TypeVar("T")
RUNS = 5


async def timed(label: str, step: Callable[[], Awaitable[T]]) -> T:
    samples = []
    result: T | None = None
    for _ in range(RUNS):
        started = time.perf_counter()
        result = await step()
        samples.append((time.perf_counter() - started) * 1000)
    print(
        f"| {label} | {statistics.median(samples):.1f} | {min(samples):.1f} | {max(samples):.1f} |"
    )
    assert result is not None
    return result


async def main() -> None:
    engine = OfflineEngine()
    pdf, docx, columns = pdf_of(PDF_TEXT_RESUME), resume_docx(), two_column_pdf(interleaved=False)
    print("| step (offline engine) | median ms | min | max |\n|---|---:|---:|---:|")
    document = await timed("PDF resume → text (child process)", lambda: extract_text(pdf, "r.pdf"))
    await timed("two-column PDF → text (child process)", lambda: extract_text(columns, "r.pdf"))
    await timed("DOCX resume → text (child process)", lambda: extract_text(docx, "r.docx"))
    await timed("TXT resume → text", lambda: extract_text(PLAIN_RESUME.encode(), "r.txt"))
    resume = await timed("text → Resume", lambda: engine.parse_resume(document.text))
    posting = await timed(
        "JSON-LD page → JobPosting (child process)",
        lambda: engine.extract_job(JSONLD_POSTING, JSONLD_POSTING_URL, None),
    )
    await timed(
        "heuristic page → JobPosting (child process)",
        lambda: engine.extract_job(HEURISTIC_POSTING, HEURISTIC_POSTING_URL, None),
    )
    await timed(
        "optimize (score before/after, tailoring)", lambda: engine.optimize(resume, posting)
    )


if __name__ == "__main__":
    asyncio.run(main())
