"""U6: byte-level fuzzing of the document reader. Real PDFs and a DOCX, damaged at random (bytes
flipped, cut short, junk inserted, slices repeated), go through ``extract_text`` with its parser
child, rlimits and deadline. Each one is read or refused with a ``UserError``; nothing hangs past
the deadline, raises anything else, or leaves a child behind."""

from __future__ import annotations

import time
from functools import cache

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.documents import Limits, extract_text
from app.errors import UserError
from tests.fixtures.documents import many_pages_pdf, resume_docx, resume_pdf, two_column_pdf
from tests.fixtures.parser_children import parser_children

LIMITS = Limits(deadline_s=10.0, cpu_seconds=5)


@cache
def seeds() -> tuple[tuple[str, bytes], ...]:
    return (
        ("cv.pdf", resume_pdf()),
        ("columns.pdf", two_column_pdf(interleaved=True)),
        ("pages.pdf", many_pages_pdf(3)),
        ("cv.docx", resume_docx()),
    )


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, bytes]:
    name, data = draw(st.sampled_from(seeds()))
    buffer = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        if not buffer:
            break
        at = draw(st.integers(0, len(buffer) - 1))
        operation = draw(st.sampled_from(["flip", "flip", "flip", "insert", "repeat", "cut"]))
        if operation == "flip":
            buffer[at] ^= draw(st.integers(1, 255))
        elif operation == "cut":
            del buffer[max(at, len(buffer) // 2) :]  # keep the head: the parser gets to work
        elif operation == "insert":
            buffer[at:at] = draw(st.binary(min_size=1, max_size=64))
        else:
            buffer[at:at] = buffer[at : at + draw(st.integers(1, 4096))]
    return name, bytes(buffer)


def read(name: str, data: bytes) -> str | None:
    """None when the document was read, else the refusal's message."""
    try:
        anyio.run(lambda: extract_text(data, name, limits=LIMITS))
    except UserError as error:
        return str(error)
    return None


@pytest.mark.timeout(300)
@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(document=damaged())
def test_damaged_documents_are_read_or_refused_cleanly(document: tuple[str, bytes]) -> None:
    """U6: 80 damaged variants of four real documents: each is read, or refused with a
    ``UserError`` that says why, within the parse deadline plus start-up; no other exception,
    no parser child left."""
    name, data = document
    started = time.monotonic()
    refusal = read(name, data)
    assert refusal is None or refusal.strip()
    assert time.monotonic() - started < LIMITS.deadline_s + 5
    assert parser_children() == []
