"""SSRF-safe fetching of a user-supplied job-posting URL: one HTML page, bounded in every way.

A user's URL is an instruction to our network, so every hop is checked the same way before a byte
is sent (reliability notes §3.1, checks F1 to F12):

1. one parser (``httpx.URL``) for checking and connecting; http/https only, ports 80/443, no
   userinfo, no ``localhost``-style names; numeric hosts are read the way ``inet_aton`` reads them
   (``http://2130706433/`` and ``http://0x7f.1/`` are 127.0.0.1);
2. the host is resolved once and **every** address must be public, after unwrapping IPv4-mapped,
   NAT64 and 6to4 forms (``is_public_address``);
3. the request goes to the checked IP itself (the URL names the IP; ``Host`` and TLS SNI name
   the host, so certificates are still verified against the host name), so a second DNS answer
   (rebinding) is never used;
4. redirects are followed by hand, steps 1 to 3 again at every hop, at most ``max_redirects``;
   https → http downgrades are refused; cookies are never stored, so never forwarded;
5. one deadline for the whole fetch (httpx timeouts are per read, encode/httpx#1450); the body is
   decoded by us with ``max_length``, so a gzip bomb costs at most ``max_bytes`` of memory;
6. no proxy from the environment, a fixed User-Agent, no credentials of any kind.

``ATSPRO_FETCH_ALLOW_HOSTS`` (``parse_allow_hosts``) lists ``host:port`` entries that may be
fetched although not public: tests' loopback servers. It is empty by default.
"""

from __future__ import annotations

import codecs
import logging
import re
import socket
import ssl
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from types import TracebackType
from typing import Self

import anyio
import httpx

from app.errors import TransientError, UserError

log = logging.getLogger("atspro.fetch")

USER_AGENT = "Mozilla/5.0 (compatible; ATSProFetcher/1.0; job posting import)"
DEFAULT_PORTS = {"http": 80, "https": 443}
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_URL_LENGTH = 2048

IPAddress = IPv4Address | IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``async resolve(host, port) -> [ip, ...]``; the default asks the system (``getaddrinfo``)."""

_BLOCKED_V4 = tuple(
    ip_network(block)
    for block in (
        "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches local services on Linux
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT; also Alibaba Cloud's metadata (100.100.100.200)
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local; cloud metadata at 169.254.169.254
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
    )
)
_GLOBAL_UNICAST_V6 = ip_network("2000::/3")
_NAT64 = ip_network("64:ff9b::/96")
_SIX_TO_FOUR = ip_network("2002::/16")
_TEREDO = ip_network("2001::/32")
_LOCAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".home.arpa", ".lan")
_HOST_CHARACTERS = re.compile(r"[a-z0-9_.-]+")
_NUMBER = re.compile(r"0x[0-9a-f]*|[0-9]+")
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE
)
_PRESCAN_BYTES = 1024
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_MAX_CAUSE_DEPTH = 8


@dataclass(frozen=True, slots=True)
class FetchedPage:
    """An HTML page as fetched: where it ended up and its decoded text."""

    url: str
    """The final URL, after redirects."""
    status: int
    content_type: str
    """The media type, e.g. ``text/html`` (parameters dropped)."""
    text: str
    charset: str
    """The encoding the body was decoded with."""


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host``, in its order, without duplicates."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def parse_allow_hosts(value: str) -> frozenset[str]:
    """``"127.0.0.1:8080, localhost:9000"`` as normalised ``host:port`` entries.

    Raises ``ValueError`` for an entry without a port: allowing a whole host would allow its
    database and metadata ports too.
    """
    entries = set()
    for raw in value.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        host, separator, port = entry.rpartition(":")
        if not separator or not host or not port.isdigit():
            msg = f"ATSPRO_FETCH_ALLOW_HOSTS entries are host:port, got {raw.strip()!r}"
            raise ValueError(msg)
        entries.add(f"{host.rstrip('.')}:{int(port)}")
    return frozenset(entries)


def is_public_address(address: IPAddress) -> bool:
    """Whether ``address`` is on the public internet, looking through embedded IPv4 addresses.

    Python before 3.12.4 misclassifies some ranges (CVE-2024-4032), so IPv4 has an explicit
    block list and IPv6 must be global unicast (2000::/3) besides ``is_global``.
    """
    if isinstance(address, IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is not None:
            return is_public_address(mapped)
        if address in _NAT64:
            return is_public_address(IPv4Address(int(address) & 0xFFFFFFFF))
        if address not in _GLOBAL_UNICAST_V6 or address in _TEREDO:
            return False
        embedded = address.sixtofour
        if embedded is not None:
            return is_public_address(embedded)
        return address.is_global
    return address.is_global and not any(address in block for block in _BLOCKED_V4)


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a host names by number, read as ``inet_aton`` (and so ``getaddrinfo``) would.

    ``2130706433``, ``0x7f.1``, ``017700000001`` and ``127.1`` are all 127.0.0.1. ``None`` for a
    host name; ``UserError`` for a host that is numeric but no valid address.
    """
    if ":" in host:
        try:
            return ip_address(host)
        except ValueError:
            raise _invalid_host(host) from None
    labels = host.split(".")
    if not all(_NUMBER.fullmatch(label) for label in labels):
        if _NUMBER.fullmatch(labels[-1]):
            raise _invalid_host(host)  # "ends in a number" (WHATWG URL): not a usable name
        return None
    try:
        numbers = [_number(label) for label in labels]
    except ValueError:
        raise _invalid_host(host) from None
    *leading, last = numbers
    if len(numbers) > 4 or any(n > 0xFF for n in leading) or last >= 256 ** (5 - len(numbers)):
        raise _invalid_host(host)
    value = last
    for position, number in enumerate(leading):
        value += number << (8 * (3 - position))
    return IPv4Address(value)


def _number(label: str) -> int:
    if label.startswith("0x"):
        return int(label[2:] or "0", 16)
    if len(label) > 1 and label.startswith("0"):
        return int(label, 8)  # "08" raises ValueError, as inet_aton refuses it
    return int(label)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date); ``None`` if absent
    or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True, slots=True)
class _Target:
    """One hop's URL after its checks: the name to send and the addresses allowed to dial."""

    url: httpx.URL
    host: str
    port: int
    addresses: tuple[IPAddress, ...]
    host_is_address: bool

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = DEFAULT_PORTS[self.url.scheme] == self.port
        return host if default else f"{host}:{self.port}"


class Fetcher:
    """Fetches one HTML page per call, refusing anything that is not a public web page.

    Use as ``async with Fetcher(...) as fetcher: page = await fetcher.fetch(url)``, or call
    ``aclose()``; one instance may serve many fetches concurrently. ``resolver`` and
    ``transport`` are the seams tests use: a stub resolver maps names to addresses, and a
    recording transport proves that refused URLs were never dialled. Pinning works through any
    transport, because the pinned address is in the request URL itself. The fetcher closes the
    transport it is given.
    """

    def __init__(
        self,
        *,
        allow_hosts: frozenset[str] = frozenset(),
        max_bytes: int = 5_000_000,
        deadline_s: float = 20.0,
        max_redirects: int = 5,
        allowed_ports: frozenset[int] = frozenset(DEFAULT_PORTS.values()),
        resolver: Resolver = system_resolver,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.allow_hosts = allow_hosts
        self.max_bytes = max_bytes
        self.deadline_s = deadline_s
        self.max_redirects = max_redirects
        self.allowed_ports = allowed_ports
        self._resolver = resolver
        self._clock = clock
        # No keep-alive: a pooled TLS connection checked for one host name must never carry a
        # request for another name that happens to share the IP.
        self._client = httpx.AsyncClient(
            transport=transport
            or httpx.AsyncHTTPTransport(
                retries=0, limits=httpx.Limits(max_keepalive_connections=0)
            ),
            trust_env=False,
            follow_redirects=False,
            timeout=httpx.Timeout(deadline_s),
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "text/html,application/xhtml+xml;q=0.9",
                "Accept-Encoding": "gzip, deflate",
                "Accept-Language": "en",
                "Connection": "close",
            },
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(self, url: str) -> FetchedPage:
        """The HTML page at ``url``, after at most ``max_redirects`` checked redirects.

        Raises ``UserError`` for what the user must fix (scheme, blocked or unknown host, not
        HTML, too large, 4xx, too many redirects) and ``TransientError`` for what may pass
        (deadline, connection failures, 5xx, 429 with its ``Retry-After``).
        """
        try:
            with anyio.fail_after(self.deadline_s):
                return await self._follow(url)
        except TimeoutError:
            raise TransientError(
                f"The page did not finish loading within {self.deadline_s:g} seconds."
            ) from None

    async def _follow(self, raw_url: str) -> FetchedPage:
        url = _parse_url(raw_url)
        for _hop in range(self.max_redirects + 1):
            target = await self._check(url)
            response = await self._send(target)
            try:
                if response.status_code not in REDIRECTS:
                    return await self._page(target, response)
                url = _redirect_target(url, response)
            finally:
                await response.aclose()
        raise UserError(
            f"The page redirected more than {self.max_redirects} times. Open it in a browser and "
            "paste the address it finally shows."
        )

    async def _check(self, url: httpx.URL) -> _Target:
        """The hop's target, or ``UserError`` if any rule forbids dialling it."""
        if url.scheme not in DEFAULT_PORTS:
            raise UserError("Only http:// and https:// web addresses can be imported.")
        if url.userinfo:
            raise UserError("Web addresses with a user name or password cannot be imported.")
        host = url.raw_host.decode("ascii").lower().removesuffix(".")
        if not host or not (":" in host or _HOST_CHARACTERS.fullmatch(host)):
            raise _invalid_host(host)
        port = url.port or DEFAULT_PORTS[url.scheme]
        key = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        allowed = key in self.allow_hosts
        literal = parse_ip_literal(host)
        if not allowed:
            if port not in self.allowed_ports:
                raise self._blocked(
                    host, "port", f"Port {port} cannot be fetched; use the page's normal address."
                )
            if literal is None and (
                "." not in host or host == "localhost" or host.endswith(_LOCAL_SUFFIXES)
            ):
                raise self._blocked(host, "name")
        addresses = (literal,) if literal is not None else await self._resolve(host, port)
        if not allowed and not all(is_public_address(address) for address in addresses):
            raise self._blocked(host, "address")
        return _Target(url, host, port, addresses, host_is_address=literal is not None)

    async def _resolve(self, host: str, port: int) -> tuple[IPAddress, ...]:
        try:
            answers = await self._resolver(host, port)
        except socket.gaierror as error:
            if error.errno == socket.EAI_AGAIN:
                raise TransientError(f"Looking up {host} failed; try again later.") from error
            raise UserError(f"The site {host} does not exist. Check the address.") from error
        addresses = []
        for answer in answers:
            try:
                addresses.append(ip_address(answer))
            except ValueError:
                continue  # an answer with a zone id or garbage is not dialled
        if not addresses:
            raise UserError(f"The site {host} does not exist. Check the address.")
        return tuple(addresses)

    def _blocked(self, host: str, rule: str, message: str | None = None) -> UserError:
        log.info("fetch.blocked", extra={"host": host, "rule": rule})
        return UserError(
            message
            or f"{host} is not a public web address, so it cannot be imported. Use the public "
            "link to the job posting."
        )

    async def _send(self, target: _Target) -> httpx.Response:
        """The response headers from the first checked address that accepts a connection."""
        extensions = (
            {}
            if target.host_is_address or target.url.scheme == "http"
            else {"sni_hostname": target.host}
        )
        failure: httpx.TransportError | None = None
        for address in target.addresses:
            request = self._client.build_request(
                "GET",
                target.url.copy_with(host=str(address)),
                headers={"Host": target.host_header},
                extensions=extensions,
            )
            try:
                return await self._client.send(request, stream=True)
            except httpx.ConnectError as error:
                if _certificate_problem(error):
                    raise UserError(
                        f"{target.host} presented an invalid HTTPS certificate, so the page was "
                        "not loaded."
                    ) from error
                failure = error  # try the next checked address, as browsers do
            except httpx.TimeoutException as error:
                raise TransientError(f"{target.host} did not answer in time.") from error
            except httpx.TransportError as error:
                raise TransientError(f"The connection to {target.host} failed.") from error
        raise TransientError(f"Could not connect to {target.host}.") from failure

    async def _page(self, target: _Target, response: httpx.Response) -> FetchedPage:
        status = response.status_code
        if status in (408, 429) or status >= 500:
            raise TransientError(
                f"{target.host} answered {status} {response.reason_phrase}; trying again later.",
                retry_after_s=retry_after_seconds(
                    response.headers.get("retry-after"), self._clock()
                ),
            )
        if status >= 400:
            raise UserError(
                f"{target.host} answered {status} {response.reason_phrase}. Check that the link "
                "opens the job posting in a browser."
            )
        if status != 200:
            raise UserError(f"{target.host} answered {status} instead of the page.")
        content_type = response.headers.get("content-type", "")
        media_type = content_type.partition(";")[0].strip().lower()
        if media_type not in HTML_TYPES:
            shown = media_type or "content without a type"
            raise UserError(
                f"The address returns {shown}, not a web page. Use the link to the job posting "
                "page itself."
            )
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large()
        body = await self._body(target, response)
        charset = _charset(content_type, body)
        return FetchedPage(
            url=str(target.url),
            status=status,
            content_type=media_type,
            text=body.decode(charset, errors="replace"),
            charset=charset,
        )

    async def _body(self, target: _Target, response: httpx.Response) -> bytes:
        decoder = _BodyDecoder(response.headers.get("content-encoding", ""), self.max_bytes)
        body = bytearray()
        try:
            async for chunk in response.aiter_raw():
                body += decoder.decode(chunk)
                if decoder.overflowed:
                    raise self._too_large()  # stop downloading; the rest would be discarded
        except httpx.TransportError as error:
            raise TransientError(f"The connection to {target.host} broke off.") from error
        return bytes(body)

    def _too_large(self) -> UserError:
        return UserError(
            f"The page is larger than {self.max_bytes / 1_000_000:g} MB, far more than a job "
            "posting needs. Use the link to the posting itself."
        )


class _BodyDecoder:
    """Content-Encoding decoding that never produces more than ``limit`` bytes in total.

    httpx inflates each network chunk whole: 64 KiB of gzip'd zeros become 64 MiB at once. Here
    ``max_length`` stops zlib at the limit, so memory stays bounded whatever the ratio.
    """

    def __init__(self, content_encoding: str, limit: int) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        self._limit = limit
        self._produced = 0
        self.overflowed = False
        self._raw_deflate_tried = False
        self._inflater: zlib._Decompress | None = None
        if not codings:
            return
        if len(codings) > 1 or codings[0] not in ("gzip", "x-gzip", "deflate"):
            raise UserError(
                f"The site sent the page encoded as {content_encoding!r}, which cannot be read."
            )
        wbits = zlib.MAX_WBITS | 16 if codings[0] != "deflate" else zlib.MAX_WBITS
        self._inflater = zlib.decompressobj(wbits)

    def decode(self, chunk: bytes) -> bytes:
        """The decoded bytes of ``chunk``; empty once the limit is passed (``overflowed``)."""
        room = self._limit - self._produced
        try:
            out = chunk[: room + 1] if self._inflater is None else self._inflate(chunk, room + 1)
        except zlib.error as error:
            raise TransientError("The page arrived damaged (bad compression).") from error
        if len(out) > room:
            self.overflowed = True
            return b""
        self._produced += len(out)
        return out

    def _inflate(self, chunk: bytes, max_length: int) -> bytes:
        assert self._inflater is not None
        try:
            return self._inflater.decompress(chunk, max_length)
        except zlib.error:
            # "deflate" is meant to be zlib-wrapped, but some servers send raw deflate.
            if self._raw_deflate_tried or self._produced:
                raise
            self._raw_deflate_tried = True
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            return self._inflater.decompress(chunk, max_length)


def _parse_url(raw_url: str) -> httpx.URL:
    if len(raw_url) > MAX_URL_LENGTH or any(c.isspace() or ord(c) < 0x20 for c in raw_url):
        raise UserError("That is not a valid web address (it has spaces or is too long).")
    try:
        return httpx.URL(raw_url)
    except httpx.InvalidURL as error:
        raise UserError("That is not a valid web address.") from error


def _redirect_target(current: httpx.URL, response: httpx.Response) -> httpx.URL:
    location = response.headers.get("location")
    if not location:
        raise UserError("The page redirected without saying where to.")
    target = current.join(_parse_url(location))
    if current.scheme == "https" and target.scheme == "http":
        raise UserError("The page redirected from https:// to insecure http://, which is refused.")
    return target


def _charset(content_type: str, body: bytes) -> str:
    """The body's encoding: BOM, then the header, then a ``<meta charset>``, then UTF-8."""
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    match = _HEADER_CHARSET.search(content_type)
    meta = _META_CHARSET.search(body[:_PRESCAN_BYTES])
    for label in (match.group(1) if match else None, meta.group(1).decode() if meta else None):
        name = _codec(label)
        if name is not None:
            return name
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"  # what browsers assume for undeclared Western pages
    return "utf-8"


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    # Browsers read pages labelled Latin-1 or ASCII as Windows-1252 (WHATWG Encoding).
    return "cp1252" if name in ("latin-1", "iso8859-1", "ascii") else name


def _certificate_problem(error: BaseException) -> bool:
    """Whether a connect error was a failed certificate check (httpx wraps httpcore wraps ssl)."""
    cause: BaseException | None = error
    for _depth in range(_MAX_CAUSE_DEPTH):
        if cause is None:
            return False
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _invalid_host(host: str) -> UserError:
    return UserError(f"“{host}” is not a valid web address host. Check the address.")
