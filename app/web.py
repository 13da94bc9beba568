"""The web app (``web/``, a Next.js static export in ``web/out``), served at ``/`` by the API.

It is installed as the router's fallback rather than a ``Mount("/")``: every API route is tried
first, so an unknown ``/api/...`` path stays a JSON 404 and a wrong method on an API route stays a
405 (a catch-all mount would answer both with a page).

Next's exported HTML starts the app with inline ``<script>`` tags. The app-wide CSP allows no
inline script, so each HTML file is served with its own CSP that lists the SHA-256 hashes of
exactly the inline scripts in that file; nothing else inline can run. ``SecurityHeaders`` only
sets the CSP when a response has none, so this one is kept.

The directory may not exist (Python tests, a checkout where ``make run`` has not built the web
app yet): the app still imports and serves the API, and ``/`` says how to build the pages.
"""

from __future__ import annotations

import base64
import hashlib
import os
from html.parser import HTMLParser
from pathlib import Path

from fastapi import FastAPI
from starlette.responses import PlainTextResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from app.security import CONTENT_SECURITY_POLICY

DEFAULT_WEB_DIR = Path(__file__).resolve().parent.parent / "web" / "out"
IMMUTABLE = "public, max-age=31536000, immutable"  # Next puts a content hash in these names
NOT_BUILT = (
    "The web app is not built. Run `make run` (it builds web/ when its sources change), or "
    "`cd web && npm ci && npm run build`. The API is at /api (docs: /api/docs).\n"
)


class _InlineScripts(HTMLParser):
    """Collects the text of every ``<script>`` without ``src`` (the parser keeps it verbatim)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self._current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and not any(name == "src" for name, _ in attrs):
            self._current = []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._current is not None:
            self.scripts.append("".join(self._current))
            self._current = None


def inline_script_hashes(html: str) -> list[str]:
    """CSP source expressions (``'sha256-…'``) for the inline scripts of one HTML document."""
    parser = _InlineScripts()
    parser.feed(html)
    parser.close()
    hashes = []
    for script in parser.scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        if (source := f"'sha256-{digest}'") not in hashes:
            hashes.append(source)
    return hashes


def page_policy(html: str) -> str:
    """The app's CSP with this page's inline scripts, and only those, allowed to run."""
    allowed = " ".join(["'self'", *inline_script_hashes(html)])
    return CONTENT_SECURITY_POLICY.replace("script-src 'self'", f"script-src {allowed}", 1)


class WebPages(StaticFiles):
    """``StaticFiles(html=True)`` over the export, with a per-page CSP and cache headers."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, html=True, check_dir=False)
        # One parse per file version: (path, mtime, size) -> policy.
        self._policies: dict[tuple[str, int, int], str] = {}

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        path = os.fspath(full_path)
        if path.endswith(".html"):
            response.headers["Content-Security-Policy"] = self._policy(path, stat_result)
            response.headers["Cache-Control"] = "no-cache"  # revalidate: new builds show at once
        elif "/_next/static/" in path.replace(os.sep, "/"):
            response.headers["Cache-Control"] = IMMUTABLE
        return response

    def _policy(self, path: str, stat_result: os.stat_result) -> str:
        key = (path, stat_result.st_mtime_ns, stat_result.st_size)
        if (policy := self._policies.get(key)) is None:
            policy = page_policy(Path(path).read_text(encoding="utf-8"))
            self._policies[key] = policy
        return policy


class WebFallback:
    """What the router runs when no route matched: the pages, but never for API paths."""

    def __init__(self, directory: Path, not_found: ASGIApp) -> None:
        self.directory = directory
        self.pages = WebPages(directory)
        self.not_found = not_found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path == "/api" or path.startswith("/api/"):
            await self.not_found(scope, receive, send)
        elif not self.directory.is_dir():
            status = 503 if path == "/" else 404
            await PlainTextResponse(NOT_BUILT, status_code=status)(scope, receive, send)
        else:
            await self.pages(scope, receive, send)


def serve_web(app: FastAPI, directory: Path | None) -> None:
    """Serve the web app from ``directory`` (default ``web/out``) after every API route."""
    router = app.router
    router.default = WebFallback(directory or DEFAULT_WEB_DIR, router.not_found)


def openapi_document() -> str:
    """The API schema the web app's TypeScript types are generated from (``npm run gen:api``)."""
    import json

    from app.main import create_app
    from app.settings import Settings

    schema = create_app(Settings(env="development", secret_key=None)).openapi()
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # `python -m app.web > web/openapi.json`
    import sys

    sys.stdout.write(openapi_document())
