"""The offline engine reads job pages in the parser child: same reading, bounded cost.

A fetched page is as untrusted as an upload: 5 MB of tiny elements costs BeautifulSoup seconds of
CPU per megabyte, which a thread could neither bound nor stop (F11, U5).
"""

from __future__ import annotations

import anyio
import pytest

from app.ai.offline.engine import OfflineEngine
from app.ai.offline.posting import MAX_LIST_ITEMS, read_page
from app.documents import Limits
from app.errors import UserError
from tests.fixtures.ai_samples import (
    HEURISTIC_POSTING,
    HEURISTIC_POSTING_URL,
    HOSTILE_DENSE_ITEMS,
    JSONLD_POSTING,
    JSONLD_POSTING_URL,
    dense_posting,
)
from tests.fixtures.parser_children import parser_children

MIB = 1024 * 1024


# Every test ends with no parser child left behind.
pytestmark = pytest.mark.usefixtures("no_leftover_children")


@pytest.mark.parametrize(
    ("page", "url", "hint"),
    [
        (JSONLD_POSTING, JSONLD_POSTING_URL, None),
        (HEURISTIC_POSTING, HEURISTIC_POSTING_URL, "Globex"),
    ],
)
async def test_the_child_reads_a_page_as_this_process_would(
    page: str, url: str, hint: str | None
) -> None:
    """The reading crosses the process boundary whole: posting, provenance and page text."""
    here = read_page(page, url, hint)
    there = await OfflineEngine().read_job_page(page, url, hint)
    assert there == here
    assert there.posting.title
    assert there.posting.requirements
    assert there.text.startswith(there.posting.title or "")


async def test_a_page_over_the_cpu_limit_is_refused_in_words_for_a_page() -> None:
    """U5: the densest page under the fetch cap, with one CPU second, is killed by RLIMIT_CPU and
    refused as a job page (not as an upload to export again); the engine reads the next page."""
    engine = OfflineEngine(page_limits=Limits(cpu_seconds=1))
    with pytest.raises(UserError) as refused:
        await engine.read_job_page(dense_posting(HOSTILE_DENSE_ITEMS), JSONLD_POSTING_URL, None)
    assert str(refused.value).startswith(
        "This job page could not be read: it is too large or complex to read in time."
    )
    assert "company's careers site" in str(refused.value)
    assert "Export" not in str(refused.value)
    next_page = await engine.read_job_page(JSONLD_POSTING, JSONLD_POSTING_URL, None)
    assert next_page.posting.title == "Senior Platform Engineer"


async def test_a_page_over_the_memory_limit_is_refused_in_words_for_a_page() -> None:
    """U5: reading a dense page needs hundreds of MiB; under a small address-space limit the child
    fails with MemoryError and replies with the memory reason."""
    engine = OfflineEngine(page_limits=Limits(memory_bytes=320 * MIB))
    with pytest.raises(UserError, match="needs far more memory to read than a job posting"):
        await engine.read_job_page(dense_posting(HOSTILE_DENSE_ITEMS), JSONLD_POSTING_URL, None)


async def test_cancelling_a_page_read_kills_its_child() -> None:
    """R11: a cancelled extract job does not leave its page reader running."""
    with anyio.move_on_after(0.5) as scope:
        await OfflineEngine().read_job_page(
            dense_posting(HOSTILE_DENSE_ITEMS), JSONLD_POSTING_URL, None
        )
    assert scope.cancelled_caught
    assert parser_children() == []


async def test_a_page_of_endless_bullets_comes_back_bounded() -> None:
    """A page listing 5,000 requirements reads as a posting with the first ``MAX_LIST_ITEMS``,
    small enough to cross back to the worker and be stored."""
    bullets = "".join(f"<li>Requirement number {n} in a very long list</li>" for n in range(5000))
    page = (
        f"<html><body><h1>Data Engineer</h1><h2>Requirements</h2><ul>{bullets}</ul></body></html>"
    )
    reading = await OfflineEngine().read_job_page(page, HEURISTIC_POSTING_URL, None)
    assert len(read_page(page, None, None).posting.requirements) == 5000
    assert reading.posting.requirements == [
        f"Requirement number {n} in a very long list" for n in range(MAX_LIST_ITEMS)
    ]
