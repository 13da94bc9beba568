"""``extract_text`` end to end: real parser children, real rlimits, real kills.

Hostile inputs must end as a clear ``UserError`` while this process (the worker) carries on, and no
child may outlive the call.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import anyio
import pytest

from app.documents import DocumentType, Limits, extract_text
from app.errors import UserError
from tests.fixtures.documents import (
    XXE_PROLOG,
    cpu_burning_pdf,
    document_xml,
    docx_bomb,
    encrypted_pdf,
    flate_bomb_pdf,
    many_pages_pdf,
    resume_docx,
    resume_pdf,
    rezip,
    two_column_pdf,
)
from tests.fixtures.parser_children import parser_children

MIB = 1024 * 1024


# Every test ends with no parser child left behind.
pytestmark = pytest.mark.usefixtures("no_leftover_children")


async def test_pdf_is_read_in_a_child() -> None:
    """A friendly PDF comes back as text, with its page count."""
    document = await extract_text(resume_pdf(), "Jane Doe.pdf")
    assert document.kind is DocumentType.PDF
    assert document.pages == 1
    assert "• Shipped the résumé parser — twice as fast" in document.text


async def test_docx_is_read_in_a_child() -> None:
    """A friendly DOCX comes back with header, table and footer text."""
    document = await extract_text(resume_docx(), "cv.docx")
    assert document.kind is DocumentType.DOCX
    assert document.text.startswith("Jane Doe · jane@example.com")
    assert "Python | SQL" in document.text
    assert document.text.endswith("References available on request")


async def test_two_column_pdf_reads_column_by_column() -> None:
    """The row-interleaved two-column layout stays readable through the whole path."""
    document = await extract_text(two_column_pdf(interleaved=True), "cv.pdf")
    assert "SKILLS\n\nPython\n\nPostgreSQL" in document.text
    assert "EXPERIENCE\n\nSenior Engineer, Acme Corp" in document.text


@pytest.mark.parametrize(
    ("data", "filename", "kind"),
    [
        (b"# Jane Doe\n\n- Python\r\n", "cv.md", DocumentType.MD),
        ("Jane Doe\nJürgen".encode("utf-16"), "cv.txt", DocumentType.TXT),
    ],
)
async def test_text_files_are_decoded(data: bytes, filename: str, kind: DocumentType) -> None:
    """Markdown and UTF-16 text are decoded without a child."""
    document = await extract_text(data, filename)
    assert document.kind is kind
    assert document.text in ("# Jane Doe\n\n- Python", "Jane Doe\nJürgen")


async def test_upload_over_the_size_limit_is_refused_first() -> None:
    """U1: A file over max_upload_bytes is refused before type detection or parsing."""
    with pytest.raises(UserError, match=r"The file is 2\.0 MiB; the limit is 1 MiB"):
        await extract_text(b"%PDF-" + bytes(2 * MIB), "cv.pdf", limits=Limits(max_upload_bytes=MIB))


def many_entries() -> bytes:
    return rezip(resume_docx(), add=[(f"word/media/{i}", b"") for i in range(1001)])


HOSTILE: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "empty": (lambda: b"", "cv.pdf", "The file is empty"),
    "pdf-named-docx": (resume_pdf, "cv.docx", "content is a PDF"),
    "html-named-pdf": (lambda: b"<html><body>CV</body></html>", "cv.pdf", "a web page (HTML)"),
    "polyglot": (lambda: resume_pdf() + resume_docx(), "cv.pdf", "both a PDF and a ZIP"),
    "encrypted": (encrypted_pdf, "cv.pdf", "password-protected"),
    "truncated": (lambda: many_pages_pdf(2)[:500], "cv.pdf", "damaged or incomplete"),
    "zip-bomb": (docx_bomb, "cv.docx", "expands 1,011 times"),
    "dot-dot": (
        lambda: rezip(resume_docx(), add=[("../../evil", b"x")]),
        "cv.docx",
        "unsafe file names",
    ),
    "entries": (many_entries, "cv.docx", "more than the 1,000"),
}


@pytest.mark.parametrize("case", HOSTILE)
async def test_hostile_files_are_refused_with_a_clear_message(case: str) -> None:
    """U2/U3/U5: Each hostile or broken upload ends as a UserError that says what is wrong."""
    make, filename, message = HOSTILE[case]
    with pytest.raises(UserError, match=re.escape(message)):
        await extract_text(make(), filename)


async def test_xxe_docx_is_refused_and_leaks_nothing() -> None:
    """U4: A DOCX pointing an entity at /etc/passwd is refused; no passwd content reaches the
    user."""
    body = "<w:p><w:r><w:t>Hi &xxe;</w:t></w:r></w:p>"
    data = rezip(
        resume_docx(), replace={"word/document.xml": document_xml(body, prolog=XXE_PROLOG)}
    )
    with pytest.raises(UserError, match="DTD") as caught:
        await extract_text(data, "cv.docx")
    assert "root:" not in str(caught.value)


async def test_only_the_first_pages_are_read_through_the_child() -> None:
    """U5: The page cap crosses the process boundary, and so does its warning."""
    document = await extract_text(many_pages_pdf(6), "cv.pdf", limits=Limits(max_pages=2))
    assert document.pages == 2
    assert "Page marker 2" in document.text
    assert "Page marker 3" not in document.text
    assert document.warnings == ("Only the first 2 of 6 pages were read.",)


async def test_cpu_burning_pdf_is_killed_at_its_cpu_limit_and_the_worker_carries_on() -> None:
    """R12/U5: A PDF needing minutes of CPU is stopped by RLIMIT_CPU; the next parse still works."""
    with pytest.raises(UserError, match="takes too long to process"):
        await extract_text(cpu_burning_pdf(), "cv.pdf", limits=Limits(cpu_seconds=1))
    assert "Jane Doe" in (await extract_text(resume_pdf(), "cv.pdf")).text


async def test_wall_clock_deadline_kills_the_child() -> None:
    """R12/U5: With a generous CPU limit, the wall-clock deadline still ends the parse."""
    limits = Limits(cpu_seconds=60, deadline_s=0.5)
    with pytest.raises(UserError, match="takes too long to process"):
        await extract_text(cpu_burning_pdf(), "cv.pdf", limits=limits)


async def test_memory_hungry_pdf_fails_in_the_child_not_the_worker() -> None:
    """U5: A FlateDecode bomb exceeds the child's RLIMIT_AS and is refused with a memory message."""
    bomb = flate_bomb_pdf(320 * MIB)
    with pytest.raises(UserError, match="needs more memory"):
        await extract_text(bomb, "cv.pdf", limits=Limits(memory_bytes=192 * MIB))


async def test_cancelling_the_caller_kills_the_child() -> None:
    """R11/R12: A cancelled job does not leave its parser running."""
    with anyio.move_on_after(0.5) as scope:
        await extract_text(cpu_burning_pdf(), "cv.pdf", limits=Limits(cpu_seconds=60))
    assert scope.cancelled_caught
    assert parser_children() == []
