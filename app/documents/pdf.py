"""PDF bytes into text with pdfminer.six, a bounded number of pages at a time.

pdfminer is the one library that kept a two-column resume's columns apart in every layout we tried
(column-wise and row-interleaved; see notes/ai.md §4.1), with its default ``LAParams``. It is also
slow on hostile layouts (superlinear in the number of text boxes), which is why this module only
ever runs inside the parser child.
"""

from __future__ import annotations

import re
from io import BytesIO, StringIO

from pdfminer.converter import TextConverter
from pdfminer.layout import LAParams
from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
from pdfminer.pdfpage import PDFPage
from pdfminer.pdfparser import PDFParser
from pdfminer.pdftypes import resolve1
from pdfminer.psexceptions import PSException

from app.documents.archive import is_zip_archive
from app.documents.document import ExtractedDocument
from app.documents.kind import PDF_MAGIC, DocumentType
from app.documents.limits import Limits
from app.documents.text import clean_text

# Glyphs without a Unicode mapping come out as "(cid:127)"; at the start of a line they are bullet
# glyphs (reportlab's and Word's), which the resume heuristics read as list markers.
# Indentation only, not blank lines before it: a page of empty lines was quadratic.
_LEADING_CID = re.compile(r"^([^\S\n]*)\(cid:\d+\)\s*", re.MULTILINE)
_OTHER_CID = re.compile(r"\(cid:\d+\)")

PDF = DocumentType.PDF


def read_pdf(data: bytes, limits: Limits) -> ExtractedDocument:
    """The text of the first ``limits.max_pages`` pages, pages separated by form feeds.

    Raises ``UserError`` for files that are not a single well-formed PDF, password-protected PDFs
    and PDFs without a text layer (scans).
    """
    if not data.startswith(PDF_MAGIC):
        raise PDF.unreadable("it does not start like a PDF file.")
    if is_zip_archive(data):
        raise PDF.unreadable(
            "it is both a PDF and a ZIP archive, which only deliberately crafted files are."
        )
    try:
        document = PDFDocument(PDFParser(BytesIO(data)))
    except PDFPasswordIncorrect as error:
        raise PDF.unreadable(
            "it is password-protected. Save a copy without a password and upload that."
        ) from error
    except PDFEncryptionError as error:
        raise PDF.unreadable(
            "it is encrypted in a way we cannot open. Save a copy without encryption and upload "
            "that."
        ) from error
    except (PSException, ValueError, KeyError, TypeError) as error:
        raise _damaged() from error
    warnings: list[str] = []
    text, pages_read = _page_text(document, limits, warnings)
    total = _declared_page_count(document)
    if pages_read == limits.max_pages and total is not None and total > pages_read:
        warnings.append(f"Only the first {pages_read} of {total} pages were read.")
    text = _LEADING_CID.sub(r"\1• ", text)
    text = _OTHER_CID.sub("", text)
    cleaned = clean_text(text, limits, warnings)
    if not cleaned.strip():
        raise PDF.unreadable(
            "it contains no selectable text (it may be a scanned image). Upload the PDF your word "
            "processor exported, or a .docx file."
        )
    return ExtractedDocument(text=cleaned, kind=PDF, pages=pages_read, warnings=tuple(warnings))


def _page_text(document: PDFDocument, limits: Limits, warnings: list[str]) -> tuple[str, int]:
    """Text of at most ``max_pages`` pages; stops early once ``max_chars`` is exceeded.

    A damaged page after the first ends the reading with a warning, keeping the pages before it,
    as a PDF viewer would show them.
    """
    resources = PDFResourceManager(caching=True)
    output = StringIO()
    device = TextConverter(resources, output, laparams=LAParams())
    interpreter = PDFPageInterpreter(resources, device)
    pages_read = 0
    try:
        for page in PDFPage.create_pages(document):
            if pages_read >= limits.max_pages or output.tell() > limits.max_chars:
                break
            interpreter.process_page(page)
            pages_read += 1
    except (PSException, ValueError, KeyError, TypeError, AttributeError) as error:
        if pages_read == 0:
            raise _damaged() from error
        warnings.append(f"Page {pages_read + 1} is damaged; only the pages before it were read.")
    finally:
        device.close()
    if pages_read == 0:
        raise _damaged()
    return output.getvalue(), pages_read


def _declared_page_count(document: PDFDocument) -> int | None:
    """The page count the file claims (``/Pages /Count``), only for the "pages skipped" warning."""
    try:
        pages = resolve1(document.catalog.get("Pages"))
        count = resolve1(pages.get("Count")) if isinstance(pages, dict) else None
    except (PSException, ValueError, KeyError, TypeError):
        return None
    return count if isinstance(count, int) and count >= 0 else None


def _damaged() -> Exception:
    return PDF.unreadable(
        "the file is damaged or incomplete. Export the PDF again and upload the new copy."
    )
