"""AI for the three operations: parse a resume, extract a job posting, optimize a resume.

Tasks use :func:`make_engine` once (in the lifespan) and the :class:`AIEngine` protocol after
that (both in :mod:`app.ai.engine`); results are the camelCase models in :mod:`app.ai.schemas`.

Nothing is imported here: the page-reading child imports :mod:`app.ai.offline.posting` and must
not pay for the Agents SDK on every start.
"""
