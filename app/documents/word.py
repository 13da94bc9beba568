"""DOCX bytes into text: headers, body (paragraphs, tables, content controls, text boxes), footers.

python-docx opens the package and parses every XML part with ``resolve_entities=False``; the walk
over the XML is ours, because python-docx's ``iter_inner_content()`` skips content controls
(``w:sdt``), which resume templates are full of, and its paragraph text skips tracked insertions.
The result keeps light structure as Markdown-like lines (``#`` headings, ``-`` list items,
``a | b`` table rows) that the resume parser reads like an uploaded ``.md`` file.
"""

from __future__ import annotations

import re
import zipfile
from io import BytesIO
from typing import Any

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml.ns import qn

from app.documents.archive import open_docx_archive, refuse_dtds
from app.documents.document import ExtractedDocument
from app.documents.kind import PDF_MAGIC, DocumentType
from app.documents.limits import Limits
from app.documents.text import clean_text

DOCX = DocumentType.DOCX
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_P, _TBL, _TR, _TC = qn("w:p"), qn("w:tbl"), qn("w:tr"), qn("w:tc")
_T, _TAB, _BR, _CR = qn("w:t"), qn("w:tab"), qn("w:br"), qn("w:cr")
_NO_BREAK_HYPHEN = qn("w:noBreakHyphen")
_TEXT_BOX = qn("w:txbxContent")
# Containers whose children are blocks again: content controls and custom XML wrappers.
_TRANSPARENT = frozenset({qn("w:sdt"), qn("w:sdtContent"), qn("w:customXml"), qn("w:smartTag")})
# Inside a paragraph, these never hold visible text (properties, deleted or moved-away text).
_INVISIBLE = frozenset(
    {qn("w:pPr"), qn("w:rPr"), qn("w:sdtPr"), qn("w:del"), qn("w:moveFrom"), _MC_FALLBACK}
)
_NUMBERING = qn("w:numPr")
_HEADINGS = re.compile(r"Heading ([1-9])")  # "Title" is "#", so "Heading 1" is "##"
_DEEPEST_HEADING = 6
_SECTION = qn("w:sectPr")
_STORY_ORDER = {"first": 0, "default": 1, "even": 2}
_PDF_SNIFF = 1024


def read_docx(data: bytes, limits: Limits) -> ExtractedDocument:
    """The text of a DOCX: section headers first, then the body in order, then footers.

    Raises ``UserError`` for archives that fail the pre-decompression checks, polyglots, files
    that are not Word documents, and documents without text.
    """
    if PDF_MAGIC in data[:_PDF_SNIFF]:
        # Readers find "%PDF-" anywhere in the first KiB: this file would open as a PDF too.
        raise DOCX.unreadable("it is both a ZIP archive and a PDF, which only crafted files are.")
    with open_docx_archive(data, limits) as archive:
        refuse_dtds(archive)
    try:
        document = docx.Document(BytesIO(data))
    except (ValueError, KeyError, SyntaxError, zipfile.BadZipFile, PackageNotFoundError) as error:
        # SyntaxError covers lxml's XMLSyntaxError; ValueError python-docx's "not a Word file".
        raise DOCX.unreadable(
            "it is damaged or not a Word document. Save it as .docx from Word and upload it again."
        ) from error
    story = _Story(_style_names(document))
    headers, footers = _header_footer_roots(document)
    lines: list[str] = []
    for root in headers:
        lines.extend(story.unique_lines(root))
    lines.extend(story.lines(document.element.body))
    for root in footers:
        lines.extend(story.unique_lines(root))
    warnings: list[str] = []
    text = clean_text("\n".join(lines), limits, warnings)
    if not text.strip():
        raise DOCX.unreadable("it contains no text.")
    return ExtractedDocument(text=text, kind=DOCX, warnings=tuple(warnings))


class _Story:
    """Renders WordprocessingML blocks as lines, remembering what headers already said."""

    def __init__(self, style_names: dict[str, str]) -> None:
        self._style_names = style_names
        self._seen: set[str] = set()

    def unique_lines(self, root: Any) -> list[str]:
        """Lines of a header or footer, unless an identical one was already rendered."""
        lines = self.lines(root)
        key = "\n".join(lines)
        if not key or key in self._seen:
            return []
        self._seen.add(key)
        return lines

    def lines(self, container: Any) -> list[str]:
        out: list[str] = []
        self._blocks(container, out)
        return out

    def _blocks(self, container: Any, out: list[str]) -> None:
        for child in container.iterchildren():
            if child.tag == _P:
                self._paragraph(child, out)
            elif child.tag == _TBL:
                self._table(child, out)
            elif child.tag in _TRANSPARENT:
                self._blocks(child, out)

    def _paragraph(self, paragraph: Any, out: list[str]) -> None:
        pieces: list[str] = []
        text_boxes: list[Any] = []
        _collect_text(paragraph, pieces, text_boxes)
        text = "".join(pieces).strip()
        if text:
            out.append(self._marker(paragraph) + text)
        for box in text_boxes:  # a text box reads best right after the paragraph anchoring it
            self._blocks(box, out)

    def _marker(self, paragraph: Any) -> str:
        style_id = paragraph.style
        name = self._style_names.get(style_id, "") if style_id else ""
        heading = _HEADINGS.fullmatch(name)
        if name == "Title":
            return "# "
        if heading:
            return "#" * min(int(heading.group(1)) + 1, _DEEPEST_HEADING) + " "
        if name.startswith("List") or paragraph.find(f"{qn('w:pPr')}/{_NUMBERING}") is not None:
            return "- "
        return ""

    def _table(self, table: Any, out: list[str]) -> None:
        for row in table.iterchildren(_TR):
            cells = [self.lines(cell) for cell in row.iterchildren(_TC)]
            cells = [cell for cell in cells if cell]
            if all(len(cell) == 1 and "\n" not in cell[0] for cell in cells):
                # A grid of short values (skills, dates): one line per row reads naturally.
                if cells:
                    out.append(" | ".join(cell[0] for cell in cells))
                continue
            for cell in cells:  # a layout table (sidebar | main): each cell is a column of text
                out.extend(cell)


def _collect_text(element: Any, pieces: list[str], text_boxes: list[Any]) -> None:
    """Visible characters under a paragraph in order; text boxes are set aside, not inlined."""
    for child in element.iterchildren():
        tag = child.tag
        if tag == _T:
            pieces.append(child.text or "")
        elif tag == _TAB:
            pieces.append("\t")
        elif tag in (_BR, _CR):
            pieces.append("\n")
        elif tag == _NO_BREAK_HYPHEN:
            pieces.append("-")
        elif tag == _TEXT_BOX:
            text_boxes.append(child)
        elif tag not in _INVISIBLE:
            _collect_text(child, pieces, text_boxes)


def _style_names(document: Any) -> dict[str, str]:
    """Style id → UI name ("Heading1" → "Heading 1"); empty if the styles part is unusable."""
    try:
        return {style.style_id: style.name or "" for style in document.styles}
    except (ValueError, KeyError, AttributeError):
        return {}


def _header_footer_roots(document: Any) -> tuple[list[Any], list[Any]]:
    """Root elements of every header and footer, per section in order, each part once."""
    related = document.part.related_parts
    headers: list[Any] = []
    footers: list[Any] = []
    seen: set[str] = set()
    for section in document.element.body.iter(_SECTION):
        references = [
            child
            for child in section.iterchildren(qn("w:headerReference"), qn("w:footerReference"))
            if child.get(qn("r:id")) not in seen
        ]
        references.sort(key=lambda ref: _STORY_ORDER.get(ref.get(qn("w:type")) or "", 1))
        for reference in references:
            rid = reference.get(qn("r:id"))
            part = related.get(rid)
            root = getattr(part, "element", None)
            if rid is None or root is None:
                continue
            seen.add(rid)
            target = headers if reference.tag == qn("w:headerReference") else footers
            target.append(root)
    return headers, footers
