"""The parser child: ``python -m app.documents.child REQUEST`` with the file's bytes on stdin.

It confines itself before it reads a single untrusted byte (CPU seconds, address space, no file
writes, no core dumps), parses, and prints one JSON reply on stdout: ``{"document": {...}}`` or
``{"error": "message for the user"}``. Anything worse (a kill by a limit, a crash) shows as a
missing reply and an exit status, which ``sandbox`` turns into a message.

The readers are imported before the limits are set: imports are trusted code and may need to
write bytecode files, which ``RLIMIT_FSIZE`` would forbid.
"""

from __future__ import annotations

import json
import logging
import resource
import signal
import sys
from collections.abc import Callable
from typing import Any

from app.documents.document import ExtractedDocument
from app.documents.kind import DocumentType
from app.documents.limits import Limits
from app.errors import UserError

Reader = Callable[[bytes, Limits], ExtractedDocument]

MEMORY_REASON = (
    "it needs more memory to open than a resume ever should. Export it again, or upload a .docx."
)
NESTING_REASON = "its structure is nested too deeply. Export it again and upload the new copy."
DAMAGED_REASON = (
    "the file is damaged or uses features we cannot read. Export it again and upload the new copy."
)


def main(argv: list[str]) -> int:
    """Parse stdin as the requested kind and write the reply; the exit status is 0 if it replied."""
    request = json.loads(argv[1])
    kind = DocumentType(request["kind"])
    limits = Limits(**request["limits"])
    reader = _reader(kind)
    confine(limits)
    data = sys.stdin.buffer.read(limits.max_upload_bytes + 1)
    reply: dict[str, Any]
    try:
        if len(data) > limits.max_upload_bytes:
            raise kind.unreadable("it is larger than the upload limit.")
        reply = {"document": reader(data, limits).to_json()}
    except UserError as error:
        reply = {"error": error.message}
    except MemoryError:
        reply = {"error": kind.unreadable(MEMORY_REASON).message, "limit": "memory"}
    except RecursionError:
        reply = {"error": kind.unreadable(NESTING_REASON).message}
    except Exception as error:  # any parser bug on hostile input is the file's fault to the user
        print(f"document.parser_error {type(error).__name__}", file=sys.stderr)
        reply = {"error": kind.unreadable(DAMAGED_REASON).message}
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


def _reader(kind: DocumentType) -> Reader:
    if kind is DocumentType.PDF:
        from app.documents.pdf import read_pdf

        return read_pdf
    if kind is DocumentType.DOCX:
        from app.documents.word import read_docx

        return read_docx
    msg = f"{kind} is decoded in the worker, not parsed in a child"
    raise ValueError(msg)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
