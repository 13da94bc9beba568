"""The deterministic engine: heuristics, JSON-LD, a curated skill list and an ATS-style score.

Nothing here touches the network or needs a key. The Agents engine reuses its parts: the
offline reading as a fallback and gap-filler, the scorer for every score, and the evidence
check on every model-tailored resume.
"""

from app.ai.offline.engine import OfflineEngine

__all__ = ["OfflineEngine"]
