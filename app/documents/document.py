"""What reading a document produces: its text, a little structure, and what was left out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.documents.kind import DocumentType


@dataclass(frozen=True, slots=True)
class ExtractedDocument:
    """The text of one uploaded document, ready for the resume parser.

    ``text`` keeps light structure as Markdown-like lines: DOCX headings become ``#`` lines, list
    items ``- `` lines and table rows ``a | b``; PDF pages are separated by form feeds (``\\f``).
    ``warnings`` tell the user what was skipped (pages over the cap, truncated text, undecodable
    bytes), so a partial read is never silent.
    """

    text: str
    kind: DocumentType
    pages: int | None = None
    """PDF pages read; ``None`` for formats without pages."""
    warnings: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """Plain values for the parser child's reply."""
        return {
            "text": self.text,
            "kind": self.kind.value,
            "pages": self.pages,
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> ExtractedDocument:
        """The document a parser child replied with; ``KeyError`` or ``ValueError`` if mangled."""
        pages = value["pages"]
        return cls(
            text=str(value["text"]),
            kind=DocumentType(value["kind"]),
            pages=None if pages is None else int(pages),
            warnings=tuple(str(warning) for warning in value["warnings"]),
        )
