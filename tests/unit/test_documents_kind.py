"""Type detection (extension and magic bytes must agree) and plain-text decoding."""

from __future__ import annotations

import codecs
import re

import pytest

from app.documents import DocumentType, Limits, detect_type
from app.documents.text import clean_text, decode_text
from app.errors import UserError
from tests.fixtures.documents import resume_docx, resume_pdf

PDF_HEAD = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
ZIP_HEAD = b"PK\x03\x04\x14\x00\x06\x00"
HTML = b"<!DOCTYPE html><html><body>Resume</body></html>"


@pytest.mark.parametrize(
    ("filename", "head", "kind"),
    [
        ("resume.pdf", PDF_HEAD, DocumentType.PDF),
        ("Resume.PDF", PDF_HEAD, DocumentType.PDF),
        ("C:\\Users\\jane\\cv.docx", ZIP_HEAD, DocumentType.DOCX),
        ("/home/jane/cv.txt", b"Jane Doe\nEngineer", DocumentType.TXT),
        ("cv.md", b"# Jane Doe", DocumentType.MD),
        ("cv.markdown", b"# Jane Doe", DocumentType.MD),
        ("cv.txt", codecs.BOM_UTF16_LE + "Jane".encode("utf-16-le"), DocumentType.TXT),
    ],
)
def test_matching_extension_and_content_are_accepted(
    filename: str, head: bytes, kind: DocumentType
) -> None:
    """A file whose extension and first bytes agree gets that kind, whatever its path style."""
    assert detect_type(filename, head) is kind


def test_generated_fixtures_are_detected() -> None:
    """Real reportlab and python-docx output passes detection."""
    assert detect_type("cv.pdf", resume_pdf()[:8192]) is DocumentType.PDF
    assert detect_type("cv.docx", resume_docx()[:8192]) is DocumentType.DOCX


@pytest.mark.parametrize(
    ("filename", "head", "message"),
    [
        ("resume.docx", PDF_HEAD, "named “.docx” but its content is a PDF"),
        ("resume.pdf", HTML, "named “.pdf” but its content is a web page (HTML)"),
        ("resume.pdf", ZIP_HEAD, "content is a ZIP archive"),
        ("resume.txt", PDF_HEAD, "content is a PDF, not a text file"),
        ("resume.md", ZIP_HEAD, "content is a ZIP archive"),
        ("resume.txt", b"\x89PNG\r\n\x1a\n", "a PNG image"),
        ("resume.txt", b"\x00\x01\x02\x03" * 64, "binary data"),
        ("resume.docx", b"Jane Doe", "not a Word (.docx) file"),
    ],
)
def test_content_that_contradicts_the_extension_is_refused(
    filename: str, head: bytes, message: str
) -> None:
    """U2: A renamed file is refused with a message saying what it really is."""
    with pytest.raises(UserError, match=re.escape(message)):
        detect_type(filename, head)


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        ("resume.doc", "Old Word .doc files are not supported"),
        ("resume.odt", "OpenDocument files are not supported"),
        ("resume.exe", "“.exe” files are not supported"),
        ("resume", "Files without an extension are not supported"),
    ],
)
def test_unsupported_extensions_are_refused_with_a_hint(filename: str, message: str) -> None:
    """Unsupported formats are refused with what to upload instead."""
    with pytest.raises(UserError, match=re.escape(message)):
        detect_type(filename, b"anything")


def test_empty_file_is_refused() -> None:
    """U2: An empty upload is refused before anything else is looked at."""
    with pytest.raises(UserError, match="The file is empty"):
        detect_type("resume.pdf", b"")


def decode(data: bytes, **limits: int) -> tuple[str, tuple[str, ...]]:
    document = decode_text(data, DocumentType.TXT, Limits(**limits))
    return document.text, document.warnings


@pytest.mark.parametrize(
    "data",
    [
        "Jürgen Müller\nSenior Engineer".encode(),
        codecs.BOM_UTF8 + "Jürgen Müller\nSenior Engineer".encode(),
        codecs.BOM_UTF16_LE + "Jürgen Müller\nSenior Engineer".encode("utf-16-le"),
        codecs.BOM_UTF16_BE + "Jürgen Müller\nSenior Engineer".encode("utf-16-be"),
        codecs.BOM_UTF32_LE + "Jürgen Müller\nSenior Engineer".encode("utf-32-le"),
        "Jürgen Müller\r\nSenior Engineer\r\n".encode(),
    ],
)
def test_unicode_text_is_decoded_by_bom_or_as_utf8(data: bytes) -> None:
    """U7: UTF-8 (with or without BOM), UTF-16 and UTF-32 with BOMs decode to the same clean
    text."""
    assert decode(data) == ("Jürgen Müller\nSenior Engineer", ())


def test_nul_bytes_and_control_characters_are_stripped() -> None:
    """U7: NUL bytes and terminal escapes are removed; tabs and newlines stay."""
    text, _ = decode(b"Jane\x00 Doe\x1b[31m\tEngineer\x07\nBerlin")
    assert text == "Jane Doe[31m\tEngineer\nBerlin"


def test_lone_surrogates_are_removed_so_text_can_be_encoded() -> None:
    """Characters that cannot be encoded as UTF-8 (lone surrogates from PDF font maps) go."""
    warnings: list[str] = []
    text = clean_text("Jane\ud800 Doe", Limits(), warnings)
    assert text.encode() == b"Jane Doe"


def test_damaged_utf8_keeps_good_characters_and_warns() -> None:
    """U7: UTF-8 with a broken byte keeps its accents, marks the break and warns."""
    text, warnings = decode("Müller ".encode() + b"\xff" + " Köln".encode())
    assert text == "Müller \ufffd Köln"
    assert warnings == ("Some bytes were not valid UTF-8 and were replaced with “\ufffd”.",)


def test_windows_1252_text_is_read_with_a_warning() -> None:
    """A file that is not UTF-8 at all is read as Windows-1252, with a warning."""
    text, warnings = decode("Café – Résumé €".encode("cp1252"))  # noqa: RUF001
    assert text == "Café – Résumé €"  # noqa: RUF001
    assert "read as Windows-1252" in warnings[0]


def test_bytes_undefined_in_windows_1252_fall_back_to_latin1() -> None:
    """Bytes that Windows-1252 leaves undefined decode as Latin-1, so reading never fails."""
    text, warnings = decode(b"Caf\xe9 \x81")
    assert text == "Café"
    assert warnings


def test_text_is_cut_at_max_chars_with_a_warning() -> None:
    """U7: A 10 MB single line is truncated to max_chars, and the user is told."""
    text, warnings = decode(b"a" * 10_000_000, max_chars=1000)
    assert text == "a" * 1000
    assert warnings == ("The text was cut at 1,000 characters; the rest was not read.",)


@pytest.mark.parametrize("data", [b"   \n\t\n", b"\x00\x00\x00", codecs.BOM_UTF8])
def test_text_without_content_is_refused(data: bytes) -> None:
    """A file with only whitespace or NULs is refused as containing no text."""
    with pytest.raises(UserError, match="contains no text"):
        decode(data)
