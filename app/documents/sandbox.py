"""Run a reader of untrusted bytes in a confined child process and turn every way it can end
into a result.

An asyncio cancel cannot stop a thread, and a hostile PDF can keep pdfminer busy for minutes or
allocate gigabytes, as a job page of 300,000 tiny elements keeps BeautifulSoup busy for half a
minute; in a child, the kernel enforces CPU and memory limits (set by the child on itself, see
``child``) and this side enforces a wall-clock deadline by killing it. The worker's event loop,
heartbeats and other jobs carry on whatever the input does.

The child gets a minimal environment: it never sees database URLs, API keys or tokens.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream, Process

from app.documents.child import UPLOAD_WORDING, Wording
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
_TEXTS_PER_REPLY = 3  # a page reading: its description, its text and its lists
_CPU_KILLS = frozenset({-signal.SIGXCPU, -signal.SIGKILL})


async def parse_in_child(kind: DocumentType, data: bytes, limits: Limits) -> ExtractedDocument:
    """The uploaded document read by a child process under ``limits``; see ``read_in_child``."""
    wording = replace(UPLOAD_WORDING, label=kind.label)
    reply = await read_in_child(kind.value, data, limits, wording=wording)
    return ExtractedDocument.from_json(reply)


async def read_in_child(
    reader: str,
    data: bytes,
    limits: Limits,
    *,
    wording: Wording,
    args: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What ``child.READERS[reader]`` made of ``data`` (its ``to_json()``), read under ``limits``.

    ``args`` are the reader's keyword arguments; ``wording`` says what the user is told when it
    fails. Raises ``UserError`` for every failure, including a child killed for exceeding its CPU
    time, memory or the wall-clock deadline; never leaves the child running, even when cancelled.
    """
    request = json.dumps(
        {
            "reader": reader,
            "wording": wording.as_dict(),
            "limits": limits.as_dict(),
            "args": dict(args or {}),
        }
    )
    command = [sys.executable, "-s", "-m", _CHILD_MODULE, request]
    reply_cap = _TEXTS_PER_REPLY * limits.max_chars * _BYTES_PER_CHAR + _REPLY_OVERHEAD
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
    return _result(
        stdout,
        stderr,
        reader=reader,
        wording=wording,
        returncode=process.returncode,
        timed_out=deadline.cancelled_caught,
    )


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
    stdout: _Capture,
    stderr: _Capture,
    *,
    reader: str,
    wording: Wording,
    returncode: int | None,
    timed_out: bool,
) -> dict[str, Any]:
    reply = None if stdout.overflowed else _reply(bytes(stdout.data))
    if reply is not None and isinstance(reply.get("result"), dict):
        return dict(reply["result"])
    if reply is not None and isinstance(reply.get("error"), str):
        log.info("document.rejected", extra={"kind": reader, "limit": reply.get("limit")})
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
            "kind": reader,
            "returncode": returncode,
            "timed_out": timed_out,
            "parser_error": parser_error,
        },
    )
    if timed_out or returncode in _CPU_KILLS:
        raise wording.unreadable(wording.slow)
    raise wording.unreadable(wording.crash)


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
