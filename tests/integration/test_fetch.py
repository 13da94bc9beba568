"""The fetcher against a real HTTP server on 127.0.0.1, through its real httpx transport.

The server's port is allow-listed (as ``ATSPRO_FETCH_ALLOW_HOSTS`` would); everything else
loopback stays blocked, and a listening "trap" socket proves that refused targets are never dialled.
Only loopback addresses are ever contacted.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.errors import TransientError, UserError
from app.fetch import USER_AGENT, Fetcher, parse_allow_hosts

PAGE = (
    "<html><head><title>Senior Engineer</title></head><body><h1>Senior Engineer</h1></body></html>"
)
BOMB_BYTES = 256 * 1024 * 1024


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """256 MiB of zeros, gzip'd to ~250 KB, built a megabyte at a time."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    chunk = bytes(1 << 20)
    parts = [compressor.compress(chunk) for _ in range(BOMB_BYTES // len(chunk))]
    return b"".join([*parts, compressor.flush()])


class Handler(BaseHTTPRequestHandler):
    """Routes for every case; runs in the server's threads."""

    server: Server

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        self.server.seen.append((self.path, dict(self.headers)))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.route()  # the fetcher may hang up on purpose (cap, deadline)

    def route(self) -> None:
        path = self.path
        if path == "/page":
            self.reply(200, "text/html; charset=utf-8", PAGE.encode())
        elif path == "/echo":
            lines = "".join(f"<p>{k.lower()}: {v}</p>" for k, v in self.headers.items())
            self.reply(200, "text/html", lines.encode())
        elif path == "/json":
            self.reply(200, "application/json", b'{"title": "Senior Engineer"}')
        elif path.startswith("/hops/"):
            left = int(path.removeprefix("/hops/"))
            self.redirect("/page" if left == 0 else f"/hops/{left - 1}")
        elif path == "/to-metadata":
            self.redirect("http://169.254.169.254/latest/meta-data/")
        elif path == "/to-trap":
            self.redirect(f"http://127.0.0.1:{self.server.trap_port}/")
        elif path == "/slow":
            self.slow()
        elif path == "/huge":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()  # no Content-Length: HTTP/1.0 body ends when the socket closes
            for _ in range(64):
                self.wfile.write(b"<p>" + b"x" * 16_000 + b"</p>")
        elif path == "/bomb":
            self.reply(200, "text/html", self.server.bomb, encoding="gzip")
        elif path == "/missing":
            self.reply(404, "text/html", b"<h1>Not found</h1>")
        elif path == "/unavailable":
            self.reply(503, "text/html", b"<h1>Down</h1>", extra={"Retry-After": "7"})
        elif path == "/busy":
            self.reply(429, "text/html", b"<h1>Slow down</h1>", extra={"Retry-After": "3"})
        else:
            self.reply(404, "text/plain", b"no route")

    def reply(
        self,
        status: int,
        content_type: str,
        body: bytes,
        *,
        encoding: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if encoding:
            self.send_header("Content-Encoding", encoding)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def slow(self) -> None:
        """Slowloris: each byte comes well within any per-read timeout, the page never ends."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not self.server.stopping.is_set():
            self.wfile.write(b"x")
            self.wfile.flush()
            self.server.stopping.wait(0.1)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, bomb: bytes, trap_port: int) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.bomb = bomb
        self.trap_port = trap_port
        self.stopping = threading.Event()


@dataclass
class Site:
    server: Server
    trap: socket.socket

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def fetcher(self, **options: object) -> Fetcher:
        allow = parse_allow_hosts(f"127.0.0.1:{self.port}, jobs.test:{self.port}")
        return Fetcher(allow_hosts=allow, **options)  # type: ignore[arg-type]

    def assert_trap_untouched(self) -> None:
        with pytest.raises(BlockingIOError):
            self.trap.accept()


@pytest.fixture
def site(gzip_bomb: bytes) -> Iterator[Site]:
    """The test server plus a listening loopback socket that no test may ever reach."""
    trap = socket.socket()
    trap.bind(("127.0.0.1", 0))
    trap.listen()
    trap.setblocking(False)
    server = Server(gzip_bomb, trap.getsockname()[1])
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Site(server, trap)
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
        trap.close()


class Recording(httpx.AsyncBaseTransport):
    """The real transport, with a record of every URL it was asked to dial."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport(retries=0)
        self.urls: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_html_page_is_fetched_and_decoded(site: Site) -> None:
    """An allow-listed loopback page comes back as text with its status, type and charset."""
    async with site.fetcher() as fetcher:
        page = await fetcher.fetch(site.url("/page"))
    assert page.status == 200
    assert page.content_type == "text/html"
    assert page.charset == "utf-8"
    assert "<h1>Senior Engineer</h1>" in page.text
    assert page.url == site.url("/page")


async def test_request_goes_to_the_resolved_address_with_the_name_as_host(site: Site) -> None:
    """A name is resolved once and dialled by address; the server sees the name and User-Agent."""

    async def resolver(host: str, port: int) -> list[str]:
        assert host == "jobs.test"
        return ["127.0.0.1"]

    async with site.fetcher(resolver=resolver) as fetcher:
        page = await fetcher.fetch(f"http://jobs.test:{site.port}/echo")
    assert f"<p>host: jobs.test:{site.port}</p>" in page.text
    assert f"<p>user-agent: {USER_AGENT}</p>" in page.text
    assert "cookie" not in page.text
    assert "authorization" not in page.text


async def test_json_is_refused_as_not_html(site: Site) -> None:
    """F11: A JSON response is refused with a message naming its type."""
    async with site.fetcher() as fetcher:
        with pytest.raises(UserError, match="application/json, not a web page"):
            await fetcher.fetch(site.url("/json"))


async def test_redirect_chain_within_the_limit_is_followed(site: Site) -> None:
    """Five redirects end at the page, and the final URL is reported."""
    async with site.fetcher() as fetcher:
        page = await fetcher.fetch(site.url("/hops/4"))
    assert page.url == site.url("/page")
    assert [path for path, _ in site.server.seen] == [
        "/hops/4",
        "/hops/3",
        "/hops/2",
        "/hops/1",
        "/hops/0",
        "/page",
    ]


async def test_more_than_five_redirects_are_refused(site: Site) -> None:
    """F5: The sixth redirect is not followed."""
    async with site.fetcher() as fetcher:
        with pytest.raises(UserError, match="more than 5 times"):
            await fetcher.fetch(site.url("/hops/5"))
    assert len(site.server.seen) == 6


async def test_redirect_to_metadata_is_refused_without_dialling_it(site: Site) -> None:
    """F5: A redirect to 169.254.169.254 stops the fetch; the transport never gets that request."""
    recording = Recording()
    async with site.fetcher(transport=recording) as fetcher:
        with pytest.raises(UserError, match="not a public web address"):
            await fetcher.fetch(site.url("/to-metadata"))
    assert recording.urls == [site.url("/to-metadata")]


async def test_redirect_to_an_unlisted_loopback_port_never_connects(site: Site) -> None:
    """F5/F7: Loopback ports outside the allow-list stay blocked, and nothing connects to them."""
    async with site.fetcher() as fetcher:
        with pytest.raises(UserError):
            await fetcher.fetch(site.url("/to-trap"))
    site.assert_trap_untouched()


async def test_proxy_settings_in_the_environment_are_ignored(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """F8: HTTP_PROXY and friends pointing at the trap are not used: the page is fetched
    directly."""
    proxy = f"http://127.0.0.1:{site.trap.getsockname()[1]}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with site.fetcher() as fetcher:
        page = await fetcher.fetch(site.url("/page"))
    assert "Senior Engineer" in page.text
    site.assert_trap_untouched()


async def test_slow_page_is_cut_off_by_the_total_deadline(site: Site) -> None:
    """F10/R12: A page trickling one byte at a time fails at the whole-fetch deadline, as
    transient."""
    async with site.fetcher(deadline_s=1.0) as fetcher:
        with pytest.raises(TransientError, match="within 1 seconds"):
            await fetcher.fetch(site.url("/slow"))


async def test_huge_page_without_length_is_cut_at_the_cap(site: Site) -> None:
    """F9: A body with no Content-Length is refused once it passes max_bytes."""
    async with site.fetcher(max_bytes=100_000) as fetcher:
        with pytest.raises(UserError, match="larger than"):
            await fetcher.fetch(site.url("/huge"))


async def test_gzip_bomb_is_refused_with_bounded_memory(site: Site) -> None:
    """F9: 256 MiB of gzip'd zeros are refused at the 5 MB cap without ever being inflated whole."""
    tracemalloc.start()
    try:
        async with site.fetcher() as fetcher:
            with pytest.raises(UserError, match="larger than 5 MB"):
                await fetcher.fetch(site.url("/bomb"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * 1024 * 1024


async def test_not_found_is_a_user_error(site: Site) -> None:
    """A 404 asks the user to check the link."""
    async with site.fetcher() as fetcher:
        with pytest.raises(UserError, match="404 Not Found"):
            await fetcher.fetch(site.url("/missing"))


@pytest.mark.parametrize(("path", "retry_after"), [("/unavailable", 7.0), ("/busy", 3.0)])
async def test_unavailable_and_rate_limited_are_transient_with_retry_after(
    site: Site, path: str, retry_after: float
) -> None:
    """R13: 503 and 429 are retried later, as soon as the server's Retry-After allows."""
    async with site.fetcher() as fetcher:
        with pytest.raises(TransientError) as caught:
            await fetcher.fetch(site.url(path))
    assert caught.value.retry_after_s == retry_after


async def test_closed_port_is_transient(site: Site) -> None:
    """Nothing listening on an allow-listed port is a transient connection failure."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    allow = parse_allow_hosts(f"127.0.0.1:{closed}")
    async with Fetcher(allow_hosts=allow) as fetcher:
        with pytest.raises(TransientError, match="Could not connect"):
            await fetcher.fetch(f"http://127.0.0.1:{closed}/")


@dataclass
class TlsSite:
    port: int
    client_context: ssl.SSLContext


def self_signed(host: str, directory: Path) -> tuple[Path, Path]:
    """A certificate for ``host`` that is its own CA, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_site(tmp_path: Path) -> Iterator[TlsSite]:
    """The test server behind TLS with a certificate for ``jobs.test`` only."""
    cert_path, key_path = self_signed("jobs.test", tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_path, key_path)
    server = Server(bomb=b"", trap_port=0)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield TlsSite(int(server.server_address[1]), ssl.create_default_context(cafile=cert_path))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def tls_fetcher(site: TlsSite, host: str) -> Fetcher:
    async def resolver(name: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    return Fetcher(
        allow_hosts=parse_allow_hosts(f"{host}:{site.port}"),
        resolver=resolver,
        transport=httpx.AsyncHTTPTransport(verify=site.client_context, retries=0),
    )


async def test_https_to_a_pinned_address_verifies_the_certificate_for_the_name(
    tls_site: TlsSite,
) -> None:
    """Dialling the checked IP keeps TLS honest: SNI and verification use the host name."""
    async with tls_fetcher(tls_site, "jobs.test") as fetcher:
        page = await fetcher.fetch(f"https://jobs.test:{tls_site.port}/page")
    assert "Senior Engineer" in page.text


async def test_https_certificate_for_another_name_is_refused(tls_site: TlsSite) -> None:
    """A certificate that does not name the requested host is a user-facing refusal."""
    async with tls_fetcher(tls_site, "other.test") as fetcher:
        with pytest.raises(UserError, match="invalid HTTPS certificate"):
            await fetcher.fetch(f"https://other.test:{tls_site.port}/page")
