"""``atspro``: serve | worker | migrate | user create | token create | status | cleanup."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

from pydantic import ValidationError

from app.errors import AppError
from app.settings import ConfigError, Mode, Settings
from app.topology import check_topology

if TYPE_CHECKING:
    from app.container import Container

GRACEFUL_HTTP_SHUTDOWN_S = 5


def main(argv: Sequence[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ConfigError as error:
        print(f"atspro: configuration error: {error}", file=sys.stderr)
        return 2
    except ValidationError as error:  # a setting with a bad value: say which, no traceback
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors(include_url=False)
        )
        print(f"atspro: configuration error: {problems}", file=sys.stderr)
        return 2
    except AppError as error:
        print(f"atspro: {error.detail}", file=sys.stderr)
        return 1


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atspro", description="ATSPro background jobs")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="HTTP and (mode all) workers in one process")
    serve.add_argument("--mode", choices=[Mode.ALL.value, Mode.WEB.value], default=None)
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser("worker", help="workers only, with a small health endpoint")
    worker.add_argument("--queues", default=None, help="comma-separated, e.g. high,default")
    worker.add_argument("--concurrency", type=int, default=None)
    worker.add_argument("--port", type=int, default=None, help="health endpoint port")
    worker.set_defaults(handler=_worker)

    migrate = commands.add_parser("migrate", help="upgrade the database schema to head")
    migrate.set_defaults(handler=_migrate)

    user = commands.add_parser("user", help="manage users").add_subparsers(required=True)
    create_user = user.add_parser("create", help="create a user; prints its API token last")
    create_user.add_argument("email")
    create_user.add_argument("--admin", action="store_true")
    create_user.set_defaults(handler=_create_user)

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(required=True)
    create_token = token.add_parser("create", help="issue another API token for a user")
    create_token.add_argument("email")
    create_token.add_argument("--name", default="cli")
    create_token.set_defaults(handler=_create_token)

    status = commands.add_parser(
        "status", help="queue depths, running jobs, workers and the oldest pending job, as JSON"
    )
    status.set_defaults(handler=_status)

    cleanup = commands.add_parser(
        "cleanup", help="delete finished jobs past their retention (ATSPRO_RETAIN_*_DAYS)"
    )
    cleanup.add_argument("--dry-run", action="store_true", help="only count what would go")
    cleanup.set_defaults(handler=_cleanup)
    return parser


def _run_uvicorn(settings: Settings, port: int) -> int:
    import os
    from types import FrameType

    import uvicorn

    from app.logging import configure_logging
    from app.main import create_app

    class Server(uvicorn.Server):
        """uvicorn, with our signal contract: the first SIGTERM/SIGINT shuts down gracefully
        (and the process exits 0, rather than re-raising the signal afterwards); a second one
        exits at once, leaving running jobs to the reaper as a crash would."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if self.should_exit:
                print("atspro: second signal, exiting now", file=sys.stderr, flush=True)
                os._exit(128 + sig)
            super().handle_exit(sig, frame)
            self._captured_signals.clear()

    configure_logging(settings.log_level)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=port,
        log_config=None,
        access_log=False,  # app/request_telemetry.py logs each request as `http.request`
        timeout_graceful_shutdown=GRACEFUL_HTTP_SHUTDOWN_S,
        lifespan="on",
    )
    server = Server(config)
    server.run()
    return 0 if server.started else 1


def _serve(args: argparse.Namespace) -> int:
    overrides = {k: v for k, v in {"mode": args.mode, "host": args.host}.items() if v}
    settings = Settings(**overrides)
    if args.port:
        settings.port = args.port
    check_topology(settings)  # refuses before uvicorn starts; the lifespan logs the warnings
    return _run_uvicorn(settings, settings.port)


def _worker(args: argparse.Namespace) -> int:
    settings = Settings(mode=Mode.WORKER)
    if args.queues:
        settings.worker_queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    if args.concurrency:
        for queue in ("high", "default", "low"):
            setattr(settings, f"concurrency_{queue}", args.concurrency)
    check_topology(settings)
    return _run_uvicorn(settings, args.port or settings.worker_port)


def _migrate(_args: argparse.Namespace) -> int:
    from app.migrate import upgrade

    settings = Settings()
    upgrade(settings.resolved_database_url)
    print("database is at the latest schema")
    return 0


def _create_user(args: argparse.Namespace) -> int:
    async def create() -> str:
        async with _container() as container:
            user, token = await container.auth.create_user(args.email, is_admin=args.admin)
            role = " as admin" if user.is_admin else ""
            print(f"created user {user.email} ({user.id}){role}")
            return str(token)

    print(asyncio.run(create()))
    return 0


def _create_token(args: argparse.Namespace) -> int:
    async def create() -> str:
        async with _container() as container:
            return str(await container.auth.create_token(args.email, args.name))

    print(asyncio.run(create()))
    return 0


def _status(_args: argparse.Namespace) -> int:
    from app.db import utcnow
    from app.jobs.backlog import backlog

    async def collect() -> dict[str, object]:
        async with _container() as container:
            queues: dict[str, object] = {}
            for name, queue in container.queues.items():
                info = await queue.info()
                workers = info.get("workers") or {}
                queues[name] = {
                    "queued": info.get("queued"),
                    "active": info.get("active"),
                    "scheduled": info.get("scheduled"),
                    "workers": len(workers),
                    "workerIds": sorted(workers),
                }
            jobs = await container.db.read(lambda c: backlog(c, utcnow()))
            return {"queues": queues, "jobs": jobs}

    print(json.dumps(asyncio.run(collect()), indent=2))
    return 0


def _cleanup(args: argparse.Namespace) -> int:
    """One retention pass now (the fleet also runs one every ATSPRO_CLEANUP_INTERVAL_S)."""
    from app.jobs.cleanup import Cleaner

    async def clean() -> dict[str, object]:
        async with _container() as container:
            cleaner = Cleaner(db=container.db, queues=container.queues, settings=container.settings)
            report = await cleaner.run(dry_run=args.dry_run)
            return report.as_dict()

    print(json.dumps(asyncio.run(clean()), indent=2))
    return 0


def _container() -> AbstractAsyncContextManager[Container]:
    from app.lifespan import build

    return build(Settings(mode=Mode.WEB, queue_url=Settings().resolved_queue_url))


if __name__ == "__main__":
    raise SystemExit(main())
