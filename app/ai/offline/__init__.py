"""The deterministic engine: heuristics, JSON-LD, a curated skill list and an ATS-style score.

Nothing here touches the network or needs a key. The Agents engine reuses its parts: the
offline reading as a fallback and gap-filler, the scorer for every score, and the evidence
check on every model-tailored resume.

The engine is :class:`app.ai.offline.engine.OfflineEngine`; nothing is imported here, so that
the page-reading child loads only what reading a page needs.
"""
