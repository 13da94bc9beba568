"""Which process layouts can work, checked before a process starts.

One process (``atspro serve``, mode ``all``) works on any backends. Split mode (``serve --mode
web`` next to ``atspro worker`` processes) needs:

* a queue the processes share (refused: the default SQLite queue with a web-only process);
* with a Redis or PostgreSQL queue, which is how processes on several hosts share work,
  ``REDIS_URL`` for live events (else a web process sees what workers do only by polling) and
  for locks (else every worker process would run its own reaper and reconciler): refused;
* all on one host when the queue or the app tables are SQLite: a warning, since other hosts
  cannot be detected from here.
"""

from __future__ import annotations

from app.settings import ConfigError, Mode, Settings


def check_topology(settings: Settings) -> list[str]:
    """Raise :class:`ConfigError` naming what is missing; return warnings for setups that work
    only on one host."""
    settings.check_topology()
    if settings.mode is Mode.ALL:
        return []
    role = "`atspro serve --mode web`" if settings.mode is Mode.WEB else "`atspro worker`"
    queue_is_sqlite = settings.resolved_queue_url.startswith("sqlite")
    warnings: list[str] = []
    if not settings.redis_url:
        if not queue_is_sqlite:
            raise ConfigError(
                f"{role} is split mode: with the queue on Redis or PostgreSQL, set REDIS_URL "
                "(redis://…) so that live job events reach every web process and the reaper and "
                "reconciler run once across processes; or run `atspro serve` (mode all)"
            )
        warnings.append(
            "split mode without REDIS_URL: events from other processes reach live streams only "
            "by polling (ATSPRO_SSE_POLL_S), and each worker process runs its own recovery"
        )
    if queue_is_sqlite:
        warnings.append(
            "the queue is SQLite: every web and worker process must run on this host and share "
            "ATSPRO_DATA_DIR; set ATSPRO_QUEUE_URL (redis://… or postgres://…) to use several hosts"
        )
    if settings.uses_sqlite_database:
        warnings.append(
            "the app tables are SQLite: every web and worker process must run on this host and "
            "share ATSPRO_DATA_DIR; set DATABASE_URL (postgresql://…) to use several hosts"
        )
    return warnings
