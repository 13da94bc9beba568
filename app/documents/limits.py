"""How much work one untrusted document may cost before it is refused.

One frozen value object so a task, a test or an operator can tighten every bound at once, and so the
parent can hand the same numbers to the parser child (it crosses the process boundary as JSON).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on size, work and time for reading one uploaded document.

    The defaults fit real resumes (a few pages, well under 1 MB of text) with a wide margin, and
    keep a hostile file from costing more than one CPU core for a few seconds and a bounded amount
    of memory.
    """

    max_upload_bytes: int = 10 * MIB
    """Largest accepted file, checked before anything is parsed."""
    max_pages: int = 20
    """PDF pages read; the rest are skipped with a warning (hostile PDFs have 10,000 pages)."""
    max_chars: int = 200_000
    """Extracted text is truncated here, before it reaches an LLM."""
    cpu_seconds: int = 15
    """``RLIMIT_CPU`` of the parser child: pdfminer's layout analysis is superlinear."""
    memory_bytes: int = 512 * MIB
    """``RLIMIT_AS`` of the parser child: a FlateDecode bomb fails there, not in the worker."""
    deadline_s: float = 30.0
    """Wall-clock bound, after which the child is killed (covers sleeping, not only CPU)."""
    max_archive_entries: int = 1000
    """DOCX: entries in the ZIP (a real document has a few dozen)."""
    max_unpacked_bytes: int = 64 * MIB
    """DOCX: sum of the declared uncompressed sizes, checked before decompressing anything."""
    max_compression_ratio: int = 100
    """DOCX: uncompressed/compressed ratio of any entry over 1 MiB (real XML stays below ~30)."""

    def as_dict(self) -> dict[str, Any]:
        """The limits as JSON-ready values, for the parser child's command line."""
        return asdict(self)
