"""The SSRF-safe fetcher without a network: a stub resolver and a recording transport.

Every refusal test asserts that the transport saw no request at all: refused addresses are never
dialled, and no packet ever leaves for a private range.
"""

from __future__ import annotations

import gzip
import socket
import zlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from ipaddress import ip_address

import httpx
import pytest

from app.errors import TransientError, UserError
from app.fetch import (
    USER_AGENT,
    Fetcher,
    is_public_address,
    parse_allow_hosts,
    parse_ip_literal,
    retry_after_seconds,
)

PUBLIC = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"
HTML = {"content-type": "text/html; charset=utf-8"}
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

Handler = Callable[[httpx.Request], httpx.Response]


class Streamed(httpx.AsyncByteStream):
    """A body that arrives in chunks, as from a socket (httpx reads ``content=`` bodies eagerly)."""

    def __init__(self, raw: httpx.AsyncByteStream, chunk: int = 16_384) -> None:
        self.raw = raw
        self.chunk = chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self.raw:
            for start in range(0, len(part), self.chunk):
                yield part[start : start + self.chunk]


class Recorder(httpx.AsyncBaseTransport):
    """A transport that records every request it is asked to send and answers from a handler."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.handler = handler or (lambda _request: httpx.Response(200, headers=HTML, text="ok"))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.handler(request)
        assert isinstance(answer.stream, httpx.AsyncByteStream)
        return httpx.Response(
            answer.status_code, headers=answer.headers, stream=Streamed(answer.stream)
        )


class StubResolver:
    """Answers from a table, counting lookups; unknown names do not exist."""

    def __init__(self, table: Mapping[str, Sequence[str]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.table[host])


NAMES = {
    "jobs.example.com": [PUBLIC],
    "v6.example.com": [PUBLIC_V6],
    "intranet.example.com": ["10.0.0.1"],
    "mixed.example.com": [PUBLIC, "10.0.0.1"],
    "metadata.example.com": ["169.254.169.254"],
    "ula.example.com": ["fd00::1"],
    "mapped.example.com": ["::ffff:127.0.0.1"],
}


def make_fetcher(
    handler: Handler | None = None, **options: object
) -> tuple[Fetcher, Recorder, StubResolver]:
    recorder = Recorder(handler)
    resolver = StubResolver(NAMES)
    fetcher = Fetcher(resolver=resolver, transport=recorder, clock=lambda: NOW, **options)
    return fetcher, recorder, resolver


async def refused(url: str, **options: object) -> tuple[UserError, Recorder]:
    fetcher, recorder, _ = make_fetcher(**options)
    async with fetcher:
        with pytest.raises(UserError) as caught:
            await fetcher.fetch(url)
    assert recorder.requests == [], "a refused URL must never reach the transport"
    return caught.value, recorder


BLOCKED_LITERALS = [
    "http://127.0.0.1/",
    "http://127.1/",
    "http://0/",
    "http://0.0.0.0/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0x7f.1/",
    "http://017700000001/",
    "http://0177.0.0.1/",
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://100.100.100.200/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.0.1/",
    "http://198.18.0.1/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://[fd00::1]/",
    "http://[fc00::1]/",
    "http://[fe80::1]/",
    "http://[fec0::1]/",
    "http://[ff02::1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[64:ff9b::10.0.0.1]/",
    "http://[2002:a9fe:a9fe::]/",
    "http://[2002:7f00:1::]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    "http://[2001:db8::1]/",
    "http://[::127.0.0.1]/",
]


@pytest.mark.parametrize("url", BLOCKED_LITERALS)
async def test_non_public_literal_addresses_are_refused_without_a_connection(url: str) -> None:
    """F2: Private, loopback, link-local, metadata, mapped, NAT64, 6to4 and odd IPv4 forms:
    refused."""
    await refused(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://intranet.example.com/",
        "http://mixed.example.com/",
        "http://metadata.example.com/",
        "http://ula.example.com/",
        "http://mapped.example.com/",
    ],
)
async def test_names_resolving_to_any_non_public_address_are_refused(url: str) -> None:
    """F3: A host name is refused if any one of its addresses is not public."""
    error, _ = await refused(url)
    assert "not a public web address" in str(error)


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/",
        "http://LOCALHOST./",
        "http://a.localhost/",
        "http://printer.local/",
        "http://metadata.google.internal/",
        "http://intranet/",
        "http://router.home.arpa/",
    ],
)
async def test_local_names_are_refused_before_resolving(url: str) -> None:
    """F3: localhost-style and single-label names are refused without a DNS lookup."""
    fetcher, recorder, resolver = make_fetcher()
    async with fetcher:
        with pytest.raises(UserError, match="not a public web address"):
            await fetcher.fetch(url)
    assert resolver.lookups == []
    assert recorder.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://jobs.example.com/posting.html",
        "gopher://jobs.example.com:70/",
        "data:text/html,<h1>job</h1>",
        "javascript:alert(1)",
        "jobs.example.com/posting",
        "//jobs.example.com/posting",
    ],
)
async def test_only_http_and_https_are_fetched(url: str) -> None:
    """F1: Any scheme other than http and https, or none, is refused."""
    error, _ = await refused(url)
    assert "http:// and https://" in str(error)


@pytest.mark.parametrize(
    "url",
    [
        "http://user:secret@jobs.example.com/",
        "http://evil@127.0.0.1/",
        "http://jobs.example.com\\@127.0.0.1/",
    ],
)
async def test_urls_with_userinfo_are_refused(url: str) -> None:
    """F6: User names and passwords in URLs are refused, whatever host follows them."""
    error, _ = await refused(url)
    assert "user name or password" in str(error)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1#@jobs.example.com/",
        " http://jobs.example.com/",
        "http://jobs.example.com/\n",
        "http://jobs example.com/",
        "http://1.2.3.4.5/",
        "http://256.1.1.1/",
        "http://08.0.0.1/",
        "http://jobs.123/",
        "http://[fe80::1%25eth0]/",
    ],
)
async def test_confusing_or_invalid_urls_are_refused(url: str) -> None:
    """F6: URLs that parsers disagree about, or whose host is no valid name or address, are
    refused."""
    await refused(url)


@pytest.mark.parametrize("port", [22, 25, 6379, 8080])
async def test_ports_other_than_80_and_443_are_refused(port: int) -> None:
    """F7: Only the web's default ports may be dialled, so internal services stay out of reach."""
    error, _ = await refused(f"http://jobs.example.com:{port}/")
    assert f"Port {port}" in str(error)


async def test_connection_goes_to_the_checked_address_with_host_and_sni() -> None:
    """F4: The request is sent to the resolved IP; Host and TLS SNI carry the original name."""
    fetcher, recorder, _ = make_fetcher()
    async with fetcher:
        page = await fetcher.fetch("https://jobs.example.com/posting?id=7")
    [request] = recorder.requests
    assert request.url.host == PUBLIC
    assert request.url.path == "/posting"
    assert request.url.query == b"id=7"
    assert request.headers["host"] == "jobs.example.com"
    assert request.extensions["sni_hostname"] == "jobs.example.com"
    assert page.url == "https://jobs.example.com/posting?id=7"


async def test_ipv6_addresses_are_dialled_in_brackets() -> None:
    """A public IPv6 answer is dialled as a bracketed literal with the name in Host."""
    fetcher, recorder, _ = make_fetcher()
    async with fetcher:
        await fetcher.fetch("http://v6.example.com:80/")
    [request] = recorder.requests
    assert request.url.host == PUBLIC_V6
    assert request.headers["host"] == "v6.example.com"


async def test_dns_is_asked_once_per_hop_so_rebinding_cannot_redirect_the_connection() -> None:
    """F4: A resolver that turns to 127.0.0.1 after its first answer never gets the connection."""
    answers = iter([[PUBLIC], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    recorder = Recorder()
    async with Fetcher(resolver=rebinding, transport=recorder) as fetcher:
        await fetcher.fetch("http://jobs.example.com/")
    assert [request.url.host for request in recorder.requests] == [PUBLIC]


async def test_next_checked_address_is_tried_when_one_refuses_the_connection() -> None:
    """When the first public address refuses to connect, the next checked one is used."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == PUBLIC:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, headers=HTML, text="second")

    recorder = Recorder(handler)
    resolver = StubResolver({"two.example.com": [PUBLIC, "93.184.215.15"]})
    async with Fetcher(resolver=resolver, transport=recorder) as fetcher:
        page = await fetcher.fetch("http://two.example.com/")
    assert page.text == "second"
    assert [r.url.host for r in recorder.requests] == [PUBLIC, "93.184.215.15"]


async def test_unknown_host_is_a_user_error() -> None:
    """A name that does not resolve tells the user to check the address."""
    error, _ = await refused("http://no-such-host.example.com/")
    assert "does not exist" in str(error)


async def test_allow_list_admits_a_listed_host_and_port_only() -> None:
    """An allow-listed host:port is fetched although loopback; other ports of that host are not."""
    allow = parse_allow_hosts("127.0.0.1:8080")
    fetcher, recorder, _ = make_fetcher(allow_hosts=allow)
    async with fetcher:
        await fetcher.fetch("http://127.0.0.1:8080/posting")
        with pytest.raises(UserError):
            await fetcher.fetch("http://127.0.0.1:8081/posting")
        with pytest.raises(UserError):
            await fetcher.fetch("http://127.0.0.1/posting")
    assert [str(request.url) for request in recorder.requests] == ["http://127.0.0.1:8080/posting"]


async def test_allow_list_is_empty_by_default() -> None:
    """Without configuration no loopback address may be fetched."""
    assert Fetcher().allow_hosts == frozenset()
    await refused("http://127.0.0.1:8080/")


def test_allow_hosts_setting_is_parsed_into_normalised_entries() -> None:
    """The comma-separated setting becomes lower-case host:port entries; IPv6 stays bracketed."""
    assert parse_allow_hosts(" LocalHost.:8000, [::1]:9000,,127.0.0.1:80 ") == {
        "localhost:8000",
        "[::1]:9000",
        "127.0.0.1:80",
    }
    assert parse_allow_hosts("") == frozenset()


@pytest.mark.parametrize("value", ["localhost", "127.0.0.1:", ":80", "host:http"])
def test_allow_hosts_entries_need_a_port(value: str) -> None:
    """An entry without a numeric port is a configuration error, not a whole-host allowance."""
    with pytest.raises(ValueError, match="host:port"):
        parse_allow_hosts(value)


def redirecting(location: str, *, then: Handler | None = None, status: int = 302) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/start":
            return httpx.Response(status, headers={"location": location})
        return (then or (lambda _r: httpx.Response(200, headers=HTML, text="final")))(request)

    return handler


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("http://169.254.169.254/latest/meta-data/", "not a public web address"),
        ("http://intranet.example.com/", "not a public web address"),
        ("file:///etc/passwd", "http:// and https://"),
        ("http://jobs.example.com:6379/", "Port 6379"),
    ],
)
async def test_redirects_are_checked_at_every_hop(location: str, message: str) -> None:
    """F5: A redirect to a blocked target is refused before the second hop is dialled."""
    fetcher, recorder, _ = make_fetcher(redirecting(location))
    async with fetcher:
        with pytest.raises(UserError, match=message):
            await fetcher.fetch("http://jobs.example.com/start")
    assert [request.url.path for request in recorder.requests] == ["/start"]


async def test_relative_redirects_are_followed_to_the_page() -> None:
    """A relative Location is resolved against the hop's URL, not the dialled IP."""
    fetcher, recorder, _ = make_fetcher(redirecting("/jobs/7", status=301))
    async with fetcher:
        page = await fetcher.fetch("https://jobs.example.com/start")
    assert page.url == "https://jobs.example.com/jobs/7"
    assert page.text == "final"
    assert recorder.requests[1].headers["host"] == "jobs.example.com"


async def test_https_to_http_downgrade_is_refused() -> None:
    """F5: A redirect from https to http is refused."""
    fetcher, recorder, _ = make_fetcher(redirecting("http://jobs.example.com/plain"))
    async with fetcher:
        with pytest.raises(UserError, match="insecure"):
            await fetcher.fetch("https://jobs.example.com/start")
    assert len(recorder.requests) == 1


async def test_redirect_without_location_is_a_user_error() -> None:
    """A 3xx without Location ends the fetch with an explanation."""
    fetcher, _, _ = make_fetcher(lambda _r: httpx.Response(302))
    async with fetcher:
        with pytest.raises(UserError, match="without saying where"):
            await fetcher.fetch("https://jobs.example.com/start")


async def test_max_redirects_is_configurable_and_counts_hops() -> None:
    """F5: With max_redirects=2, two redirects succeed and a third is refused."""

    def chain(request: httpx.Request) -> httpx.Response:
        left = int(request.url.path.strip("/"))
        if left == 0:
            return httpx.Response(200, headers=HTML, text="end")
        return httpx.Response(302, headers={"location": f"/{left - 1}"})

    fetcher, recorder, _ = make_fetcher(chain, max_redirects=2)
    async with fetcher:
        assert (await fetcher.fetch("https://jobs.example.com/2")).text == "end"
        with pytest.raises(UserError, match="more than 2 times"):
            await fetcher.fetch("https://jobs.example.com/3")
    assert len(recorder.requests) == 3 + 3


async def test_outbound_headers_are_fixed_and_carry_no_credentials() -> None:
    """F12/F5: Requests carry exactly the fixed header set, and cookies set by a hop are never
    sent on."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/start":
            return httpx.Response(
                302, headers={"location": "/next", "set-cookie": "session=abc; Path=/"}
            )
        return httpx.Response(200, headers=HTML, text="ok")

    fetcher, recorder, _ = make_fetcher(handler)
    async with fetcher:
        await fetcher.fetch("https://jobs.example.com/start")
    for request in recorder.requests:
        assert set(request.headers) == {
            "host",
            "user-agent",
            "accept",
            "accept-encoding",
            "accept-language",
            "connection",
        }
        assert request.headers["user-agent"] == USER_AGENT
        assert request.headers["accept-encoding"] == "gzip, deflate"


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (429, {"retry-after": "30"}, 30.0),
        (503, {"retry-after": "Thu, 01 Jan 2026 12:02:00 GMT"}, 120.0),
        (500, {}, None),
        (502, {"retry-after": "soon"}, None),
        (408, {}, None),
    ],
)
async def test_busy_or_failing_servers_are_transient(
    status: int, headers: dict[str, str], retry_after: float | None
) -> None:
    """R13: 429, 408 and 5xx are transient and carry the server's Retry-After in seconds."""
    fetcher, _, _ = make_fetcher(lambda _r: httpx.Response(status, headers=headers))
    async with fetcher:
        with pytest.raises(TransientError) as caught:
            await fetcher.fetch("https://jobs.example.com/")
    assert caught.value.retry_after_s == retry_after


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 204])
async def test_client_errors_and_odd_statuses_are_user_errors(status: int) -> None:
    """R13: 4xx and non-200 successes are the user's to fix, and name the status."""
    fetcher, _, _ = make_fetcher(lambda _r: httpx.Response(status, headers=HTML))
    async with fetcher:
        with pytest.raises(UserError, match=str(status)):
            await fetcher.fetch("https://jobs.example.com/")


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/pdf", "text/plain", "image/png", None]
)
async def test_only_html_is_accepted(content_type: str | None) -> None:
    """F11: A response that is not text/html or XHTML is refused, naming what it was."""
    headers = {"content-type": content_type} if content_type else {}
    fetcher, _, _ = make_fetcher(lambda _r: httpx.Response(200, headers=headers, content=b"{}"))
    async with fetcher:
        with pytest.raises(UserError, match="not a web page"):
            await fetcher.fetch("https://jobs.example.com/")


async def test_declared_length_over_the_cap_is_refused() -> None:
    """F9: A Content-Length above max_bytes is refused without reading the body."""
    handler: Handler = lambda _r: httpx.Response(  # noqa: E731
        200, headers={**HTML, "content-length": "6000000"}, content=b"x" * 10
    )
    fetcher, _, _ = make_fetcher(handler)
    async with fetcher:
        with pytest.raises(UserError, match="larger than 5 MB"):
            await fetcher.fetch("https://jobs.example.com/")


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate", None])
async def test_decoded_size_is_capped_for_every_encoding(encoding: str | None) -> None:
    """F9: Bodies over max_bytes once decoded are refused, compressed or not."""
    body = b"<p>" + b"a" * 200_000 + b"</p>"
    headers = dict(HTML)
    if encoding == "gzip":
        body, headers["content-encoding"] = gzip.compress(body), "gzip"
    elif encoding == "deflate":
        body, headers["content-encoding"] = zlib.compress(body), "deflate"
    elif encoding == "raw-deflate":
        raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        body, headers["content-encoding"] = raw.compress(body) + raw.flush(), "deflate"
    fetcher, _, _ = make_fetcher(
        lambda _r: httpx.Response(200, headers=headers, content=body), max_bytes=100_000
    )
    async with fetcher:
        with pytest.raises(UserError, match=r"larger than 0\.1 MB"):
            await fetcher.fetch("https://jobs.example.com/")
    small, _, _ = make_fetcher(
        lambda _r: httpx.Response(200, headers=headers, content=body), max_bytes=300_000
    )
    async with small:
        page = await small.fetch("https://jobs.example.com/")
    assert len(page.text) == 200_007


async def test_unknown_content_encoding_is_refused() -> None:
    """An encoding the fetcher cannot bound (br, stacked gzip) is refused."""
    headers = {**HTML, "content-encoding": "br"}
    fetcher, _, _ = make_fetcher(lambda _r: httpx.Response(200, headers=headers, content=b"x"))
    async with fetcher:
        with pytest.raises(UserError, match="cannot be read"):
            await fetcher.fetch("https://jobs.example.com/")


@pytest.mark.parametrize(
    ("content_type", "body", "charset", "text"),
    [
        ("text/html; charset=utf-8", "<p>Café</p>".encode(), "utf-8", "<p>Café</p>"),
        ("text/html; charset=ISO-8859-1", "<p>Café</p>".encode("cp1252"), "cp1252", "<p>Café</p>"),
        ("text/html", b'<meta charset="shift_jis"><p>\x93\xfa</p>', "shift_jis", "日"),
        ("text/html", "\ufeff<p>Café</p>".encode(), "utf-8-sig", "<p>Café</p>"),
        ("text/html", "<p>Café \u2013 €</p>".encode("cp1252"), "cp1252", "Café \u2013 €"),
        ("text/html; charset=no-such", b"<p>plain</p>", "utf-8", "<p>plain</p>"),
    ],
)
async def test_charset_comes_from_bom_header_meta_or_content(
    content_type: str, body: bytes, charset: str, text: str
) -> None:
    """The page is decoded with its BOM, header or meta charset, else UTF-8, else Windows-1252."""
    headers = {"content-type": content_type}
    fetcher, _, _ = make_fetcher(lambda _r: httpx.Response(200, headers=headers, content=body))
    async with fetcher:
        page = await fetcher.fetch("https://jobs.example.com/")
    assert page.charset == charset
    assert text in page.text


async def test_connection_failures_are_transient() -> None:
    """Refused connections and timeouts are worth a retry."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def stall(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    for handler in (refuse, stall):
        fetcher, _, _ = make_fetcher(handler)
        async with fetcher:
            with pytest.raises(TransientError):
                await fetcher.fetch("https://jobs.example.com/")


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        (PUBLIC, True),
        (PUBLIC_V6, True),
        ("64:ff9b::808:808", True),
        ("2002:808:808::1", True),
        ("::ffff:8.8.8.8", True),
        ("127.0.0.1", False),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("172.31.255.255", False),
        ("192.0.0.9", False),
        ("192.168.1.1", False),
        ("198.19.0.1", False),
        ("239.255.255.250", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("::ffff:10.0.0.1", False),
        ("64:ff9b::7f00:1", False),
        ("64:ff9b:1::1", False),
        ("2002:c0a8:101::1", False),
        ("2001::1", False),
        ("2001:db8::1", False),
        ("fc00::1", False),
        ("fe80::1", False),
        ("ff02::1", False),
        ("fd00:ec2::254", False),
    ],
)
def test_public_address_classification(address: str, public: bool) -> None:
    """F2: Embedded IPv4 decides for mapped, NAT64 and 6to4 forms; every special range is
    private."""
    assert is_public_address(ip_address(address)) is public


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1.258", "10.1.1.2"),
        ("0", "0.0.0.0"),
        ("134744072", "8.8.8.8"),
        ("::ffff:7f00:1", "::ffff:7f00:1"),
        ("jobs.example.com", None),
    ],
)
def test_numeric_hosts_are_read_like_inet_aton(host: str, address: str | None) -> None:
    """F2: Decimal, octal, hex and short IPv4 spellings mean what the system resolver reads in
    them."""
    parsed = parse_ip_literal(host)
    assert (None if parsed is None else str(parsed)) == address


def test_retry_after_reads_seconds_and_http_dates() -> None:
    """Retry-After in seconds or as an HTTP date becomes seconds; past dates and junk do not."""
    assert retry_after_seconds("120", NOW) == 120.0
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:30 GMT", NOW) == 30.0
    assert retry_after_seconds("Thu, 01 Jan 2026 11:00:00 GMT", NOW) == 0.0
    assert retry_after_seconds("-5", NOW) is None
    assert retry_after_seconds(None, NOW) is None
