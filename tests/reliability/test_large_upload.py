"""U1: a 50 MB upload against the 10 MB limit, with and without Content-Length, sent to a real
``atspro serve`` over a raw socket. It is refused with a 413 while it streams in: the server
never takes the whole body, its memory and temporary files stay small, and it serves on."""

from __future__ import annotations

import select
import socket
from pathlib import Path

import httpx
import pytest

from tests.reliability.process import app_process

MB = 1024 * 1024
UPLOAD = 50 * MB
CHUNK = 64 * 1024
BOUNDARY = "reliabilityboundary"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def du(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def upload(base_url: str, token: str, *, chunked: bool) -> tuple[int, int]:
    """PUT /api/parse with a 50 MB file; the answer's status and how many body bytes went out
    before the server answered or closed."""
    host, port = base_url.removeprefix("http://").split(":")
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="cv.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    length = len(head) + UPLOAD + len(tail)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {length}"
    request = (
        f"PUT /api/parse HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n{framing}\r\n\r\n"
    ).encode()

    def frame(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n" if chunked else data

    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request + frame(head))
        filler = b"a" * CHUNK
        try:
            while sent < UPLOAD:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break  # the server has answered (or closed): stop sending
                sock.sendall(frame(filler))
                sent += CHUNK
            else:
                sock.sendall(frame(tail) + (b"0\r\n\r\n" if chunked else b""))
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while b"\r\n" not in answer and (data := sock.recv(4096)):
                answer += data
        except ConnectionResetError:
            pass
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1") else 0
    return status, sent


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_oversized_upload_is_refused_while_it_streams_in(tmp_path: Path, chunked: bool) -> None:
    """U1: 413 for a 50 MB upload (10 MB limit) whether or not it declares its length; the
    server answers before the body has all gone out, grows by less than 15 MB, leaves less than
    15 MB in its temporary directory, and still accepts a small upload afterwards."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with app_process(tmp_path / "data", TMPDIR=str(scratch), ATSPRO_RATE_LIMIT_SUBMIT="off") as app:
        app.start()
        token = app.create_user("upload@example.com")
        assert app.process is not None
        headers = {"Authorization": f"Bearer {token}"}
        httpx.get(f"{app.base_url}/api/jobs", headers=headers, timeout=10).raise_for_status()
        baseline = rss_mb(app.process.pid)

        status, sent = upload(app.base_url, token, chunked=chunked)
        assert status == 413
        assert sent < UPLOAD
        assert rss_mb(app.process.pid) - baseline < 15
        assert du(scratch) < 15 * MB

        small = httpx.put(
            f"{app.base_url}/api/parse",
            files={"file": ("cv.txt", b"Jane Doe\nEngineer\n", "text/plain")},
            headers=headers,
            timeout=30,
        )
        assert small.status_code == 202, small.text
