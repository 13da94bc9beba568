"""Finding skills in text: longest match over the curated list, plus fuzzy near misses.

One regular-expression alternation per case mode, longest spellings first, does what a trie
would (Python's alternation takes the first alternative that matches at a position). Word
boundaries are custom because skill names contain ``+``, ``#``, ``.`` and ``/``: ``C++``,
``Node.js`` and ``CI/CD`` must match whole, and ``SQL`` must not match inside ``PostgreSQL`` or
``T-SQL``. Spellings of one or two characters (``C``, ``R``, ``Go``) get stricter boundaries so
that ``C-level``, ``R&D`` and a middle initial ``R.`` do not count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from rapidfuzz import fuzz, process

from app.ai.offline.skills import CASE_SENSITIVE, SKILLS

_BEFORE = r"(?<![\w+#/.\-])"
_AFTER_LONG = r"(?![\w+#])(?!\.\w)"
_AFTER_SHORT = r"(?![\w+#/.&\-])"
SHORT = 2
FUZZY_MIN_LENGTH = 5  # shorter words are too alike ("Java"/"Jira") for a ratio to mean much
FUZZY_CUTOFF = 88.0
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9+#./\-]*")


@dataclass(frozen=True)
class Hit:
    """One skill found in a text: its canonical name and the words that matched."""

    canonical: str
    surface: str
    start: int
    end: int

    @property
    def literal(self) -> bool:
        """Whether the text used the canonical spelling (what an ATS searches for)."""
        return self.surface.casefold() == self.canonical.casefold()


def _alternation(spellings: list[str]) -> str:
    long = sorted((s for s in spellings if len(s) > SHORT), key=len, reverse=True)
    short = sorted((s for s in spellings if len(s) <= SHORT), key=len, reverse=True)
    parts = []
    if long:
        parts.append("(?:" + "|".join(_escape(s) for s in long) + ")" + _AFTER_LONG)
    if short:
        parts.append("(?:" + "|".join(_escape(s) for s in short) + ")" + _AFTER_SHORT)
    return _BEFORE + "(?:" + "|".join(parts) + ")"


def _escape(spelling: str) -> str:
    # Spaces in a spelling match any run of whitespace, so line-wrapped PDF text still matches.
    return r"\s+".join(re.escape(word) for word in spelling.split())


class SkillCatalog:
    """The curated list compiled for matching; build once with :func:`default_catalog`."""

    def __init__(self, skills: dict[str, tuple[str, ...]], case_sensitive: frozenset[str]):
        self._canonical: dict[str, str] = {}  # casefolded spelling → canonical
        self._exact: dict[str, str] = {}  # exact spelling → canonical (case-sensitive ones)
        folded: list[str] = []
        exact: list[str] = []
        for canonical, aliases in skills.items():
            for spelling in (canonical, *aliases):
                if spelling in case_sensitive:
                    self._exact[spelling] = canonical
                    exact.append(spelling)
                else:
                    self._canonical[spelling.casefold()] = canonical
                    folded.append(spelling)
        self.names: tuple[str, ...] = tuple(skills)
        self._folded_pattern = re.compile(_alternation(folded), re.IGNORECASE)
        self._exact_pattern = re.compile(_alternation(exact))

    def canonical(self, phrase: str) -> str | None:
        """The canonical name of a phrase that is exactly one spelling of a skill, else None."""
        phrase = " ".join(phrase.split()).strip(" .,;:")
        return self._exact.get(phrase) or self._canonical.get(phrase.casefold())

    def find(self, text: str) -> list[Hit]:
        """Every skill mentioned in ``text``, in order, longest spelling winning overlaps."""
        hits: list[Hit] = []
        for pattern, table, fold in (
            (self._folded_pattern, self._canonical, True),
            (self._exact_pattern, self._exact, False),
        ):
            for match in pattern.finditer(text):
                surface = match.group(0)
                key = " ".join(surface.split())
                canonical = table[key.casefold() if fold else key]
                hits.append(Hit(canonical, surface, match.start(), match.end()))
        hits.sort(key=lambda hit: (hit.start, -(hit.end - hit.start)))
        kept: list[Hit] = []
        for hit in hits:
            if kept and hit.start < kept[-1].end:
                continue
            kept.append(hit)
        return kept

    def names_in(self, text: str) -> list[str]:
        """Canonical names mentioned in ``text``, first mention first, without repeats."""
        return list(dict.fromkeys(hit.canonical for hit in self.find(text)))


@cache
def default_catalog() -> SkillCatalog:
    """The product's catalog, compiled once per process (a few milliseconds)."""
    return SkillCatalog(dict(SKILLS), CASE_SENSITIVE)


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` as whole words, ignoring case and spacing."""
    if not phrase.strip():
        return False
    after = _AFTER_SHORT if len(phrase.strip()) <= SHORT else _AFTER_LONG
    flags = 0 if phrase in CASE_SENSITIVE else re.IGNORECASE
    return re.search(_BEFORE + _escape(phrase) + after, text, flags) is not None


def word_ngrams(text: str, longest: int = 3) -> set[str]:
    """Lower-cased runs of one to ``longest`` words: the candidates for fuzzy matching."""
    words = [word.strip(".-/").lower() for word in _WORD.findall(text)]
    words = [word for word in words if word]
    return {
        " ".join(words[i : i + size])
        for size in range(1, longest + 1)
        for i in range(len(words) - size + 1)
    }


def fuzzy_find(term: str, candidates: set[str]) -> str | None:
    """The candidate that is probably ``term`` misspelled or inflected ("Kubernetes" /
    "kubernets", "microservice" / "microservices"), or None."""
    if len(term) < FUZZY_MIN_LENGTH or not candidates:
        return None
    found = process.extractOne(
        term.lower(), candidates, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF
    )
    return None if found is None else str(found[0])
