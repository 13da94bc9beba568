"""Which kind of document an upload is, decided by its name *and* its first bytes.

A file is accepted only when the extension and the magic bytes tell the same story (ASVS 5.2.2):
a PDF renamed ``.docx`` or an HTML page renamed ``.pdf`` is refused here, before any parser sees it.
The structural parse in the child is the third witness that must agree.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import PurePosixPath, PureWindowsPath

from app.errors import UserError

PDF_MAGIC = b"%PDF-"
ZIP_MAGIC = b"PK\x03\x04"

# Signatures of binary formats people upload by mistake; a "text" file must not start with one.
_BINARY_MAGICS: dict[bytes, str] = {
    PDF_MAGIC: "a PDF",
    ZIP_MAGIC: "a ZIP archive (DOCX, ODT, …)",
    b"PK\x05\x06": "an empty ZIP archive",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1": "an old Word or Office file",
    b"{\\rtf": "an RTF file",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
    b"\x7fELF": "a program",
}
_UNICODE_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_SNIFF_BYTES = 4096
_MAX_NUL_SHARE = 0.1


class DocumentType(StrEnum):
    """The upload formats a resume may have."""

    PDF = "pdf"
    DOCX = "docx"
    TXT = "txt"
    MD = "md"

    @property
    def label(self) -> str:
        """How messages name this kind to the user."""
        return _LABELS[self]

    @property
    def is_text(self) -> bool:
        """Plain text needs decoding, not parsing, so it is read without a child process."""
        return self in (DocumentType.TXT, DocumentType.MD)

    def unreadable(self, reason: str) -> UserError:
        """The error for a file of this kind that cannot be used, with the reason the user sees."""
        return unreadable(self.label, reason)


def unreadable(label: str, reason: str) -> UserError:
    """The error for an untrusted input (an upload, a fetched page) that cannot be used."""
    return UserError(f"This {label} could not be read: {reason}")


_LABELS = {
    DocumentType.PDF: "PDF",
    DocumentType.DOCX: "Word document",
    DocumentType.TXT: "text file",
    DocumentType.MD: "Markdown file",
}

_EXTENSIONS = {
    ".pdf": DocumentType.PDF,
    ".docx": DocumentType.DOCX,
    ".txt": DocumentType.TXT,
    ".text": DocumentType.TXT,
    ".md": DocumentType.MD,
    ".markdown": DocumentType.MD,
}

_UNSUPPORTED_HINTS = {
    ".doc": "old Word .doc files are not supported; save it as .docx or PDF and upload that",
    ".rtf": "RTF files are not supported; save it as .docx or PDF and upload that",
    ".odt": "OpenDocument files are not supported; save it as .docx or PDF and upload that",
    ".pages": "Pages files are not supported; export it as PDF or .docx and upload that",
}

SUPPORTED = "PDF, DOCX, TXT or Markdown (.md)"


def extension(filename: str) -> str:
    """The lower-cased extension of the last path component, whatever the client's OS."""
    name = PureWindowsPath(PurePosixPath(filename).name).name
    return PurePosixPath(name.strip().rstrip(".")).suffix.lower()


def detect_type(filename: str, head: bytes) -> DocumentType:
    """The kind of an upload from its name and its first bytes (a few KiB are enough).

    Raises ``UserError`` when the file is empty, its extension is not supported, or its content
    does not match its extension.
    """
    if not head:
        raise UserError("The file is empty. Choose the resume file again and upload it.")
    suffix = extension(filename)
    kind = _EXTENSIONS.get(suffix)
    if kind is None:
        hint = _UNSUPPORTED_HINTS.get(suffix)
        if hint is None:
            named = f"“{suffix}” files are" if suffix else "Files without an extension are"
            hint = f"{named} not supported; upload a {SUPPORTED} file"
        raise UserError(hint[0].upper() + hint[1:] + ".")
    if kind is DocumentType.PDF and not head.startswith(PDF_MAGIC):
        raise _mismatch(suffix, _describe(head), "PDF")
    if kind is DocumentType.DOCX and not head.startswith(ZIP_MAGIC):
        raise _mismatch(suffix, _describe(head), "Word (.docx)")
    if kind.is_text:
        found = _binary_signature(head)
        if found is not None:
            raise _mismatch(suffix, found, "text")
    return kind


def _mismatch(suffix: str, found: str, expected: str) -> UserError:
    return UserError(
        f"The file is named “{suffix}” but its content is {found}, not a {expected} file. "
        f"Upload the original {SUPPORTED} file."
    )


def _binary_signature(head: bytes) -> str | None:
    """What binary format ``head`` starts with, if any; a text file with many NULs is binary."""
    for magic, name in _BINARY_MAGICS.items():
        if head.startswith(magic):
            return name
    if head.startswith(_UNICODE_BOMS):
        return None  # UTF-16 text is full of NULs by design
    sample = head[:_SNIFF_BYTES]
    if sample.count(0) > _MAX_NUL_SHARE * len(sample):
        return "binary data"
    return None


def _describe(head: bytes) -> str:
    """A short name for what the content really is, for the mismatch message."""
    found = _binary_signature(head)
    if found is not None:
        return found
    sample = head[:_SNIFF_BYTES].lstrip().lower()
    if sample.startswith((b"<!doctype html", b"<html")) or b"<html" in sample:
        return "a web page (HTML)"
    return "something else"
