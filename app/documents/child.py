"""The parser child: ``python -m app.documents.child REQUEST`` with the untrusted bytes on stdin.

``REQUEST`` is JSON: the reader's name in ``READERS``, the ``Wording`` of its failures, the
``Limits`` and the reader's keyword arguments. The child confines itself before it reads a single
untrusted byte (CPU seconds, address space, no file writes, no core dumps), reads, and prints one
JSON reply on stdout: ``{"result": {...}}`` (the reading's ``to_json()``) or
``{"error": "message for the user"}``. Anything worse (a kill by a limit, a crash) shows as a
missing reply and an exit status, which ``sandbox`` turns into a message.

The readers are imported before the limits are set: imports are trusted code and may need to
write bytecode files, which ``RLIMIT_FSIZE`` would forbid.
"""

from __future__ import annotations

import importlib
import json
import logging
import resource
import signal
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from app.documents.kind import DocumentType, unreadable
from app.documents.limits import Limits
from app.errors import UserError


class Reading(Protocol):
    """What a reader returns: anything that can cross back to the parent as JSON."""

    def to_json(self) -> dict[str, Any]: ...


Reader = Callable[..., Reading]
"""``reader(data, limits, **args)``: untrusted bytes into a reading, or ``UserError``."""

READERS = {
    DocumentType.PDF.value: "app.documents.pdf:read_pdf",
    DocumentType.DOCX.value: "app.documents.word:read_docx",
    "job-page": "app.ai.offline.posting:read_job_page",
}
"""The readers a parent may ask for, by name (a fixed list: the request never names code)."""


@dataclass(frozen=True, slots=True)
class Wording:
    """How a failure is put to the user: what the input is called, and what to do about each way
    reading it can fail (an upload can be exported again; a fetched page cannot)."""

    label: str
    slow: str
    """Killed by the CPU limit or the deadline."""
    crash: str
    """Ended without a reply: a crash, or a reply larger than any reading."""
    memory: str
    nesting: str
    damaged: str
    """The reader raised something unexpected on it."""

    def unreadable(self, reason: str) -> UserError:
        return unreadable(self.label, reason)

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


UPLOAD_WORDING = Wording(
    label="document",
    slow="it takes too long to process (its layout is unusually complex). Export it again, or "
    "upload a .docx or .txt version.",
    crash="our reader stopped unexpectedly on it. Export it again and upload the new copy.",
    memory="it needs more memory to open than a resume ever should. Export it again, or upload "
    "a .docx.",
    nesting="its structure is nested too deeply. Export it again and upload the new copy.",
    damaged="the file is damaged or uses features we cannot read. Export it again and upload the "
    "new copy.",
)


def main(argv: list[str]) -> int:
    """Read stdin with the requested reader and write the reply; the exit status is 0 if it did."""
    request = json.loads(argv[1])
    wording = Wording(**request["wording"])
    limits = Limits(**request["limits"])
    reader = _reader(request["reader"])
    confine(limits)
    data = sys.stdin.buffer.read(limits.max_upload_bytes + 1)
    reply: dict[str, Any]
    try:
        if len(data) > limits.max_upload_bytes:
            raise wording.unreadable("it is larger than the upload limit.")
        reply = {"result": reader(data, limits, **request["args"]).to_json()}
    except UserError as error:
        reply = {"error": error.message}
    except MemoryError:
        reply = {"error": wording.unreadable(wording.memory).message, "limit": "memory"}
    except RecursionError:
        reply = {"error": wording.unreadable(wording.nesting).message}
    except Exception as error:  # any parser bug on hostile input is the input's fault to the user
        print(f"document.parser_error {type(error).__name__}", file=sys.stderr)
        reply = {"error": wording.unreadable(wording.damaged).message}
    sys.stdout.write(json.dumps(reply, ensure_ascii=False))
    sys.stdout.flush()
    return 0


def confine(limits: Limits) -> None:
    """Apply the limits to this process; the kernel enforces them from here on."""
    # Soft limit: SIGXCPU ends the process; the hard limit one second later is SIGKILL.
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Parsers have no reason to write files; a write fails with EFBIG instead of killing us.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    # pdfminer warns per malformed object; a hostile file would flood stderr.
    logging.disable(logging.WARNING)


def _reader(name: str) -> Reader:
    module, _, function = READERS[name].partition(":")
    reader: Reader = getattr(importlib.import_module(module), function)
    return reader


if __name__ == "__main__":
    sys.exit(main(sys.argv))
