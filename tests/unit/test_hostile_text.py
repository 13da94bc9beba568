"""U7: the offline resume reader takes time linear in its text, whatever the text is.

A resume is untrusted text of up to ``Limits.max_chars`` characters, read in a thread beside the
event loop, where nothing can stop it. Regular expressions that scan a whole text and may start a
match anywhere inside a run of their characters rescan the run at every start: 200,000 digits
took minutes in the e-mail pattern, and dashes, dots, ``[``, spaces, newlines and capitalized
words did the same in five others (2026-11-30). Each text below is the largest a resume can be,
made of one repeated unit; read linearly each takes a second or two here (quadratically,
minutes), so the deadline is only a liveness bound. Reads run in a child process, so one past the
deadline is killed rather than left running beside the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.ai.offline.posting import extract_posting
from app.ai.offline.resume import parse_resume_text
from app.documents import Limits

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 30.0
UNITS = [
    "1",  # the e-mail pattern, started at every digit
    "é",
    ".",
    "-",  # the address pattern, started after every dash
    "1-",
    "[",  # Markdown links: an unclosed bracket
    "[a](",
    " ",  # the page title's separators, started at every space
    "\n",
    "A ",  # institutions: capitalized words before "University"
    "EDUCATION\nA A A ",
    "  at ",
    "(",
    "a@",
    "Jan 2020 - ",
]
READ = """
import sys
from app.ai.offline.engine import optimize_offline
from app.ai.offline.posting import extract_posting
from app.ai.offline.resume import parse_resume_text
from app.documents import Limits
from tests.fixtures.ai_samples import JSONLD_POSTING

unit, size = sys.argv[1], Limits().max_chars
text = (unit * (size // len(unit) + 1))[:size]
optimize_offline(parse_resume_text(text), extract_posting(JSONLD_POSTING, None, None))
"""


@pytest.mark.parametrize("unit", UNITS)
def test_the_largest_hostile_resume_is_read_and_scored_in_linear_time(unit: str) -> None:
    """The read and the optimization of ``max_chars`` of ``unit`` finish within the deadline."""
    try:
        subprocess.run([sys.executable, "-c", READ, unit], check=True, timeout=DEADLINE_S, cwd=ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{unit!r} x {Limits().max_chars:,}: not read in {DEADLINE_S} s")


SCAN = """
import importlib, sys
from app.documents import Limits

module, name, unit = sys.argv[1:]
size = Limits().max_chars
list(getattr(importlib.import_module(module), name).finditer((unit * size)[:size]))
"""
PATTERNS = [
    ("app.ai.offline.resume", "EMAIL", "1"),
    ("app.ai.offline.resume", "_URL", "-"),
    ("app.ai.offline.text", "_MD_LINK", "["),
    ("app.ai.offline.posting", "_TITLE_SPLIT", " "),  # a page's <title>
    ("app.ai.offline.entries", "_INSTITUTION", "A "),  # one line of an education section
    ("app.documents.pdf", "_LEADING_CID", "\n"),  # a PDF's text
]


@pytest.mark.parametrize(("module", "name", "unit"), PATTERNS)
def test_each_fixed_pattern_scans_its_worst_text_in_linear_time(
    module: str, name: str, unit: str
) -> None:
    """Each pattern that was quadratic scans ``max_chars`` of the unit it was slow on."""
    try:
        subprocess.run(
            [sys.executable, "-c", SCAN, module, name, unit],
            check=True,
            timeout=DEADLINE_S,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{module}.{name} on {unit!r}: not scanned in {DEADLINE_S} s")


def test_linear_patterns_still_find_what_they_found() -> None:
    """The start-of-run lookbehinds change where a match may start, not what is found (the same
    reading as before them, checked against the earlier patterns)."""
    resume = parse_resume_text(
        "Jane Doe\njane.doe+cv@mail.example.com | www.jane-doe.dev | my-site.example.org | "
        "[portfolio](https://jane.example.com/work)\n"
        "EDUCATION\nMassachusetts Institute of Technology, Cambridge\nBSc Physics 2012 - 2016"
    )
    assert resume.contact.email == "jane.doe+cv@mail.example.com"
    assert resume.contact.links == [
        "www.jane-doe.dev",
        "my-site.example.org",
        "https://jane.example.com/work",
    ]
    assert resume.education[0].institution == "Massachusetts Institute of Technology, Cambridge"
    page = "<html><title>Platform Engineer  |  Acme Careers</title></html>"
    posting = extract_posting(page, None, None)
    assert (posting.title, posting.company) == ("Platform Engineer", "Acme")
