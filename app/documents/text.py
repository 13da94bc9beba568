"""Bytes of a plain-text upload into clean text, and the cleaning every extracted text goes through.

Plain text is decoded in the worker itself: decoding is linear in the input and allocates a bounded
amount (the upload is capped first), so unlike PDF and DOCX parsing it needs no sandbox.
"""

from __future__ import annotations

import re

from app.documents.document import ExtractedDocument
from app.documents.kind import DocumentType
from app.documents.limits import Limits

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF32_BOMS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_REPLACEMENT = "\N{REPLACEMENT CHARACTER}"

# C0 and C1 controls except tab, newline and form feed (the PDF page separator): NUL bytes and
# escape sequences would otherwise travel on into prompts, logs and the browser. Lone surrogates
# (from broken PDF font maps) cannot be encoded as UTF-8 at all.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0d-\x1f\x7f-\x9f\ud800-\udfff]")
_BLANK_RUNS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def decode_text(data: bytes, kind: DocumentType, limits: Limits) -> ExtractedDocument:
    """The text of a TXT or Markdown upload.

    A BOM decides the encoding (UTF-8, UTF-16, UTF-32); otherwise UTF-8 is tried, and a file
    that is not UTF-8 at all is read as Windows-1252 (or Latin-1, which accepts every byte) with a
    warning. Raises ``UserError`` when no text is left.
    """
    warnings: list[str] = []
    text = _decode(data, warnings)
    cleaned = clean_text(text, limits, warnings)
    if not cleaned.strip():
        raise kind.unreadable("it contains no text.")
    return ExtractedDocument(text=cleaned, kind=kind, warnings=tuple(warnings))


def clean_text(text: str, limits: Limits, warnings: list[str]) -> str:
    """Text with normalised newlines, no control characters, and at most ``limits.max_chars``.

    Appends a warning to ``warnings`` when the text is cut.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROLS.sub("", text)
    text = _BLANK_RUNS.sub("\n\n", text).strip()
    if len(text) > limits.max_chars:
        text = text[: limits.max_chars]
        warnings.append(
            f"The text was cut at {limits.max_chars:,} characters; the rest was not read."
        )
    return text


def _decode(data: bytes, warnings: list[str]) -> str:
    if data.startswith(_UTF8_BOM):
        return _decode_unicode(data[len(_UTF8_BOM) :], "utf-8", warnings)
    if data.startswith(_UTF32_BOMS):
        return _decode_unicode(data, "utf-32", warnings)
    if data.startswith(_UTF16_BOMS):
        return _decode_unicode(data, "utf-16", warnings)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lenient = data.decode("utf-8", errors="replace")
    if any(ord(char) > 0x7F and char != _REPLACEMENT for char in lenient):
        # Real UTF-8 with a few broken bytes: re-reading it all as Windows-1252 would garble
        # every accented letter, so keep UTF-8 and mark only the broken spots.
        warnings.append(_DAMAGED_UTF8)
        return lenient
    warnings.append(
        "The file is not UTF-8; it was read as Windows-1252 (Western European). If letters look "
        "wrong, save it as UTF-8 and upload it again."
    )
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # accepts every byte, so decoding always ends here


def _decode_unicode(data: bytes, encoding: str, warnings: list[str]) -> str:
    text = data.decode(encoding, errors="replace")
    if _REPLACEMENT in text and _REPLACEMENT not in data.decode(encoding, errors="ignore"):
        warnings.append(_DAMAGED_UTF8.replace("UTF-8", encoding.upper()))
    return text


_DAMAGED_UTF8 = (
    "Some bytes were not valid UTF-8 and were replaced with “\N{REPLACEMENT CHARACTER}”."
)
