"""HTML → readable blocks, and a posting's blocks → responsibilities and requirements.

Job descriptions arrive as HTML (a page, or the escaped ``description`` of JSON-LD) or as plain
text with bullet characters. Both become a list of :class:`Block` (heading, bullet, paragraph);
a heading, or a short bold or colon-terminated line, opens a bucket by what it says (notes/ai.md
§5), and bullets join the open bucket. "Nice to have" and benefits are their own buckets, so
preferred skills never count as requirements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import islice
from typing import Literal

from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString

from app.ai.offline.text import BULLET

Kind = Literal["heading", "bullet", "paragraph"]
Bucket = Literal["responsibilities", "requirements", "preferred", "other"]

_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCK_TAGS = frozenset(
    {"p", "div", "section", "article", "main", "ul", "ol", "dl", "dt", "dd", "table", "tr",
     "td", "th", "blockquote", "header", "footer", "aside", "pre", "body", "html", "span"}
)  # fmt: skip
# Real pages nest a few dozen levels; deeper markup is read as plain text, so a hostile page of
# 100,000 nested tags costs neither a RecursionError nor quadratic time.
MAX_DEPTH = 64
# Content that is never part of a posting's text.
NOISE_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "nav", "form", "button")
MAX_LABEL_WORDS = 10
# A label ("<p><strong>Requirements</strong></p>") has a handful of nodes, never more than this.
MAX_LABEL_NODES = 32

_BUCKETS: tuple[tuple[Bucket, re.Pattern[str]], ...] = (
    (
        "preferred",
        re.compile(r"nice[- ]to[- ]have|preferred|bonus|plus\b|desired|good to have", re.I),
    ),
    (
        "other",
        re.compile(
            r"benefit|perk|we offer|what we give|compensation|salary|pay range|"
            r"about (us|the company|the team)|who we are|how to apply|apply|equal opportunit|"
            r"diversity|"
            r"our (values|culture)|life at",
            re.I,
        ),
    ),
    (
        "requirements",
        re.compile(
            r"requirement|qualification|what you(['\u2019]ll| will) (need|bring)|you bring|"
            r"looking for|who you are|about you|you have|must[- ]have|skills|experience|"
            r"what we expect|you should|ideal candidate|profile",
            re.I,
        ),
    ),
    (
        "responsibilities",
        re.compile(
            r"responsibilit|what you(['\u2019]ll| will) (do|be doing|work on)|your (role|impact|"
            r"mission|day)|the role|duties|day[- ]to[- ]day|in this role|you will|key tasks|"
            r"what the job involves|job description",
            re.I,
        ),
    ),
)


@dataclass(frozen=True)
class Block:
    kind: Kind
    text: str


@dataclass
class Buckets:
    responsibilities: list[str] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    preferred: list[str] = field(default_factory=list)


def html_blocks(node: Tag) -> list[Block]:
    """The readable blocks of an element, in document order."""
    blocks: list[Block] = []
    buffer: list[str] = []

    def flush() -> None:
        text = " ".join(" ".join(buffer).split())
        buffer.clear()
        if not text:
            return
        marker = BULLET.match(text)
        if marker and marker.group(0).strip() and text[marker.end() :]:
            blocks.append(Block("bullet", text[marker.end() :]))
            return
        blocks.append(Block("paragraph", text))

    def walk(element: Tag, depth: int) -> None:
        for child in element.children:
            if isinstance(child, NavigableString):
                if type(child) is NavigableString:  # not a comment, CDATA or doctype
                    buffer.append(str(child))
                continue
            if not isinstance(child, Tag) or child.name in NOISE_TAGS:
                continue
            if child.name in _HEADING_TAGS or _bold_label(child):
                flush()
                blocks.append(Block("heading", child.get_text(" ", strip=True)))
            elif child.name == "li":
                flush()
                text = " ".join(child.get_text(" ", strip=True).split())
                if text:
                    blocks.append(Block("bullet", text))
            elif child.name == "br":
                flush()
            elif child.name in _BLOCK_TAGS:
                flush()
                descend(child, depth)
                flush()
            else:
                descend(child, depth)

    def descend(element: Tag, depth: int) -> None:
        if depth < MAX_DEPTH:
            walk(element, depth + 1)
        else:  # get_text walks the tree without recursing
            buffer.append(element.get_text(" "))

    walk(node, 0)
    flush()
    return blocks


def _bold_label(element: Tag) -> bool:
    """A paragraph that is only a short bold phrase: a heading in all but name."""
    if element.name not in {"p", "div", "strong", "b"} or not _small(element):
        return False
    text = element.get_text(" ", strip=True)
    if not text or len(text.split()) > MAX_LABEL_WORDS:
        return False
    bold = element if element.name in {"strong", "b"} else element.find(["strong", "b"])
    if not isinstance(bold, Tag):
        return False
    is_alone = element.name in {"strong", "b"} and _alone_in_parent(element)
    return is_alone or bold.get_text(" ", strip=True) == text


def _alone_in_parent(element: Tag) -> bool:
    parent = element.parent
    if parent is None or parent.name not in {"p", "div", "td"} or not _small(parent):
        return False
    return parent.get_text(" ", strip=True) == element.get_text(" ", strip=True)


def _small(element: Tag) -> bool:
    """At most ``MAX_LABEL_NODES`` nodes below: what a label can be, checked without walking a
    big subtree (asking every element of a deep or wide page for its whole text is quadratic)."""
    return len(list(islice(element.descendants, MAX_LABEL_NODES + 1))) <= MAX_LABEL_NODES


def text_blocks(text: str) -> list[Block]:
    """Blocks of plain text: bullet lines, and short colon-ended lines as headings."""
    blocks = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if (marker := BULLET.match(line)) and marker.group(0).strip() and line[marker.end() :]:
            blocks.append(Block("bullet", line[marker.end() :]))
        elif line.endswith(":") and len(line.split()) <= MAX_LABEL_WORDS:
            blocks.append(Block("heading", line.rstrip(":")))
        else:
            blocks.append(Block("paragraph", line))
    return blocks


def parse_fragment(markup: str) -> list[Block]:
    """Blocks of an HTML fragment, or of plain text when there is no markup in it."""
    if not re.search(r"<[a-zA-Z][^>]*>", markup):
        return text_blocks(markup)
    soup = BeautifulSoup(markup, "lxml")
    return html_blocks(soup.body or soup)


def bucket_of(heading: str) -> Bucket | None:
    """Which bucket a heading opens, or None when it says nothing we recognise."""
    for bucket, pattern in _BUCKETS:
        if pattern.search(heading):
            return bucket
    return None


def split_buckets(blocks: list[Block]) -> Buckets:
    """Bullets under each recognised heading, by bucket; other headings close the bucket."""
    buckets = Buckets()
    current: Bucket = "other"
    for block in blocks:
        label = block.text.rstrip(":")
        is_label = block.kind == "heading" or (
            block.kind == "paragraph"
            and block.text.endswith(":")
            and len(block.text.split()) <= MAX_LABEL_WORDS
        )
        if is_label:
            current = bucket_of(label) or "other"
        elif block.kind == "bullet" and current != "other":
            getattr(buckets, current).append(block.text)
    return buckets


def render(blocks: list[Block]) -> str:
    """Blocks as text: headings and paragraphs on their own lines, bullets as ``- item``."""
    lines: list[str] = []
    for block in blocks:
        if block.kind == "bullet":
            lines.append(f"- {block.text}")
        else:
            if lines:
                lines.append("")
            lines.append(block.text)
    return "\n".join(lines).strip()
