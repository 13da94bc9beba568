"""End-to-end benchmarks: ``python -m bench`` (or ``make bench``).

Scenarios, interleaved in one run so machine noise hits them alike:

* ``raw-saq-redis``: SAQ alone on Redis, a no-op function, no job table (the yardstick);
* ``atspro-sqlite``: the whole product on its defaults (SQLite app tables + SQLite queue);
* ``atspro-redis``: the whole product with its queue on Redis (app tables still SQLite).

See ``bench/__main__.py`` for the metrics and ``--help`` for the knobs.
"""
