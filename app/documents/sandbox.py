"""Run a document reader in a confined child process and turn every way it can end into a result.

An asyncio cancel cannot stop a thread, and a hostile PDF can keep pdfminer busy for minutes or
allocate gigabytes; in a child, the kernel enforces CPU and memory limits (set by the child on
itself, see ``child``) and this side enforces a wall-clock deadline by killing it. The worker's
event loop, heartbeats and other jobs carry on whatever the file does.

The child gets a minimal environment: it never sees database URLs, API keys or tokens.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream, Process

from app.documents.document import ExtractedDocument
from app.documents.kind import DocumentType
from app.documents.limits import Limits
from app.errors import UserError

log = logging.getLogger("atspro.documents")

_CHILD_MODULE = "app.documents.child"
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the directory that holds ``app``
_STDERR_CAP = 64 * 1024
_REPLY_OVERHEAD = 1024 * 1024
_BYTES_PER_CHAR = 6  # worst case of a JSON-escaped character
_CPU_KILLS = frozenset({-signal.SIGXCPU, -signal.SIGKILL})

SLOW_REASON = (
    "it takes too long to process (its layout is unusually complex). Export it again, or upload "
    "a .docx or .txt version."
)
CRASH_REASON = "our reader stopped unexpectedly on it. Export it again and upload the new copy."


async def parse_in_child(kind: DocumentType, data: bytes, limits: Limits) -> ExtractedDocument:
    """The document read by a child process under ``limits``.

    Raises ``UserError`` for every failure, including a child killed for exceeding its CPU time,
    memory or the wall-clock deadline; never leaves the child running, even when cancelled.
    """
    request = json.dumps({"kind": kind.value, "limits": limits.as_dict()})
    command = [sys.executable, "-s", "-m", _CHILD_MODULE, request]
    reply_cap = limits.max_chars * _BYTES_PER_CHAR + _REPLY_OVERHEAD
    stdout = _Capture(reply_cap)
    stderr = _Capture(_STDERR_CAP)
    process = await anyio.open_process(command, env=_child_environment(), cwd=_PACKAGE_ROOT)
    try:
        with anyio.move_on_after(limits.deadline_s) as deadline:
            await _communicate(process, data, stdout, stderr)
    finally:
        if process.returncode is None:
            process.kill()
        with anyio.CancelScope(shield=True):
            await process.aclose()
    timed_out = deadline.cancelled_caught
    return _result(kind, process.returncode, stdout, stderr, timed_out=timed_out)


async def _communicate(process: Process, data: bytes, stdout: _Capture, stderr: _Capture) -> None:
    # Opened with pipes, so the streams exist.
    assert process.stdin is not None
    assert process.stdout is not None
    assert process.stderr is not None
    async with anyio.create_task_group() as group:
        group.start_soon(stdout.drain, process.stdout)
        group.start_soon(stderr.drain, process.stderr)
        await _feed(process.stdin, data)
        await process.wait()


async def _feed(stdin: ByteSendStream, data: bytes) -> None:
    try:
        await stdin.send(data)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        pass  # the child stopped reading (it refused the file early); its reply says why
    finally:
        await stdin.aclose()


class _Capture:
    """Collects a child's output up to a cap and keeps draining, so the child never blocks."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data = bytearray()
        self.overflowed = False

    async def drain(self, stream: ByteReceiveStream) -> None:
        try:
            async for chunk in stream:
                room = self.cap - len(self.data)
                self.data += chunk[:room]
                self.overflowed |= len(chunk) > room
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass


def _result(
    kind: DocumentType,
    returncode: int | None,
    stdout: _Capture,
    stderr: _Capture,
    *,
    timed_out: bool,
) -> ExtractedDocument:
    reply = None if stdout.overflowed else _reply(bytes(stdout.data))
    if reply is not None and "document" in reply:
        return ExtractedDocument.from_json(reply["document"])
    if reply is not None and isinstance(reply.get("error"), str):
        log.info("document.rejected", extra={"kind": kind.value, "limit": reply.get("limit")})
        raise UserError(reply["error"])
    parser_error = next(
        (
            line
            for line in stderr.data.decode(errors="replace").splitlines()
            if line.startswith("document.")
        ),
        None,
    )
    log.warning(
        "document.child_failed",
        extra={
            "kind": kind.value,
            "returncode": returncode,
            "timed_out": timed_out,
            "parser_error": parser_error,
        },
    )
    if timed_out or returncode in _CPU_KILLS:
        raise kind.unreadable(SLOW_REASON)
    raise kind.unreadable(CRASH_REASON)


def _reply(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _child_environment() -> dict[str, str]:
    """Just enough environment to start Python and import ``app``; no secrets are inherited."""
    python_path = os.pathsep.join(
        part for part in (str(_PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")) if part
    )
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "PYTHONPATH": python_path,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        "LC_ALL": "C.UTF-8",
    }
