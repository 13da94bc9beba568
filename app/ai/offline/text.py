"""Line-level reading of document text: bullets, Markdown emphasis, separators.

Text reaches the engine from TXT and Markdown files and from PDF/DOCX extraction, so the same
thing arrives in many spellings: bullets as ``•``, ``-``, ``*``, ``▪`` or pdfminer's
``(cid:127)``; headings as ``## Skills``, ``SKILLS`` or ``Skills:``; emphasis as ``**…**``.
This module turns a line into what it says, once, for both the resume and posting readers.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

BULLET = re.compile(r"^\s*(?:\(cid:\d+\)|[•●▪■◦‣∙·○◆►▸➢✓✔*+\-\u2013\u2014]|\d{1,2}[.)](?=\s))\s*")
# No brackets inside the text nor parentheses inside the target: each try stops at the next
# one, so a line of "[a](" repeated is read in linear time.
_MD_LINK = re.compile(r"\[([^\[\]]+)\]\(([^\s()]+)\)")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1|(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
# Separators between fields on one line: pipes, middle dots, spaced dashes, tabs, wide gaps.
FIELD_SEPARATOR = re.compile(r"\s*(?:\||·|•|\s[-\u2013\u2014]\s|\t|\s{3,})\s*")
SENTENCE_END = (".", "!", "?", ";")


@dataclass(frozen=True)
class Line:
    """One line of a document, as read."""

    text: str  # without bullet marker, Markdown heading marks or emphasis
    bullet: bool
    markdown_heading: bool
    raw: str

    @property
    def blank(self) -> bool:
        return not self.text


def clean_text(text: str) -> str:
    """NFKC-normalised text with uniform line ends, no-break spaces and PDF ligatures fixed."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    return re.sub(r"[\u200b\u200c\u200d\ufeff]", "", text)


def read_lines(text: str) -> list[Line]:
    """Split text into :class:`Line` values, stripping markers but remembering them."""
    lines = []
    for raw in clean_text(text).split("\n"):
        stripped = raw.rstrip()
        heading = bool(re.match(r"^\s{0,3}#{1,6}\s", stripped))
        body = re.sub(r"^\s{0,3}#{1,6}\s+", "", stripped)
        bullet = False
        if not heading and (match := BULLET.match(body)) and not _is_rule(body):
            rest = body[match.end() :]
            # "- 2019" or "-5%" are not bullets; a marker needs a space and text after it.
            if rest and (match.group(0).endswith(" ") or match.group(0).startswith("(cid")):
                bullet, body = True, rest
        body = strip_markdown(body).strip()
        lines.append(Line(body, bullet, heading, raw))
    return lines


def strip_markdown(text: str) -> str:
    """Drop emphasis markers and turn ``[label](url)`` into ``label (url)``."""
    text = _MD_LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    previous = None
    while previous != text:
        previous = text
        text = _EMPHASIS.sub(lambda m: m.group(2) or m.group(3), text)
    return text


def _is_rule(text: str) -> bool:
    """A horizontal rule (``---``, ``***``, ``___``), not a bullet."""
    return bool(re.fullmatch(r"\s*([-*_=])(\s*\1){2,}\s*", text))


def split_fields(text: str) -> list[str]:
    """Split a line on field separators (``|``, ``·``, spaced dashes, tabs, wide gaps)."""
    return [part.strip(" ,") for part in FIELD_SEPARATOR.split(text) if part.strip(" ,")]


def split_list(text: str) -> list[str]:
    """Split an inline list on commas, semicolons, bullets and pipes, keeping parentheses."""
    items: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        if depth == 0 and char in ",;•·|":
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return [item.strip(" .\t") for item in items if item.strip(" .\t")]
