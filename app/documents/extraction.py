"""The one entry point tasks call: uploaded bytes and a file name in, checked text out."""

from __future__ import annotations

from app.documents.document import ExtractedDocument
from app.documents.kind import detect_type
from app.documents.limits import MIB, Limits
from app.documents.sandbox import parse_in_child
from app.documents.text import decode_text
from app.errors import UserError

DEFAULT_LIMITS = Limits()
_HEAD_BYTES = 8192


async def extract_text(
    data: bytes, filename: str, *, limits: Limits = DEFAULT_LIMITS
) -> ExtractedDocument:
    """The text of an uploaded resume, whose bytes are not trusted.

    Checks the size, then that the extension and the magic bytes agree; PDF and DOCX are then
    parsed in a confined child process (``sandbox``), TXT and Markdown decoded here. Every problem
    the user can fix, including a file too hostile or too complex to read, raises ``UserError``
    with a message saying what to do.
    """
    if len(data) > limits.max_upload_bytes:
        raise UserError(
            f"The file is {len(data) / MIB:.1f} MiB; the limit is "
            f"{limits.max_upload_bytes / MIB:.0f} MiB. Remove large images or upload a PDF export."
        )
    kind = detect_type(filename, data[:_HEAD_BYTES])
    if kind.is_text:
        return decode_text(data, kind, limits)
    return await parse_in_child(kind, data, limits)
