"""AI for the three operations: parse a resume, extract a job posting, optimize a resume.

Tasks use :func:`make_engine` once (in the lifespan) and the :class:`AIEngine` protocol after
that; results are the camelCase models in :mod:`app.ai.schemas`.
"""

from app.ai.engine import AIConfig, AIEngine, make_engine

__all__ = ["AIConfig", "AIEngine", "make_engine"]
