"""Untrusted resume files (PDF, DOCX, TXT, Markdown) into text with light structure.

``extract_text(data, filename, limits=...)`` is the whole API a task needs:

1. size: larger than ``Limits.max_upload_bytes`` is refused outright;
2. type: the extension and the magic bytes must agree (``detect_type``);
3. PDF and DOCX are read in a child process with CPU, memory and wall-clock limits (``sandbox``,
   ``child``): DOCX archives are judged from their ZIP directory before anything is inflated
   (``archive``), PDFs are read for at most ``Limits.max_pages`` pages (``pdf``), DOCX headers,
   tables and footers are kept in order (``word``);
4. TXT and Markdown are decoded in-process (``text``): BOMs, UTF-8, then Windows-1252.

Every failure the user can fix is a ``UserError`` whose message says what to do.

The same confined child reads fetched job pages for the offline AI engine (``child.READERS``,
``sandbox.read_in_child``): a page is as untrusted as an upload.
"""

from app.documents.document import ExtractedDocument
from app.documents.extraction import extract_text
from app.documents.kind import DocumentType, detect_type
from app.documents.limits import Limits

__all__ = ["DocumentType", "ExtractedDocument", "Limits", "detect_type", "extract_text"]
