"""Server-side HTTP requests to user-chosen URLs, refusing private destinations (docs/reliability.md R10).

In core because every app that takes a URL checks it when it is given (render's `callback_url`, campaigns'
webhook endpoints and CRM integrations), and campaigns sends to it.

The host is resolved once; every address it resolves to must be public; the connection goes to the checked
address (Host header and TLS SNI keep the name), so DNS cannot answer differently between the check and the
connect (rebinding). Redirects are never followed: a 3xx is just a non-2xx answer. Literal addresses in any
notation (decimal `2130706433`, octal `0177.0.0.1`, hex `0x7f.1`, IPv6-mapped `::ffff:127.0.0.1`) are
normalised by the resolver (inet_aton/getaddrinfo) before the check, so they are caught like any name.
`OUTBOUND_ALLOW_PRIVATE=true` (development and tests only) turns the check off.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from core.errors import ApplicationError

BLOCKED_DESTINATION = "The destination address is not allowed (private, loopback, link-local or reserved)."
BAD_URL = "Only http and https URLs with a host are allowed."
UNRESOLVABLE = "The host name does not resolve."

# Bodies we read back are only for the delivery log; no receiver's answer needs more (bytes).
MAX_RESPONSE_BYTES = 64 * 1024


class OutboundError(Exception):
    """The request was not sent (blocked or unresolvable) or failed in transport."""


@dataclass(frozen=True)
class OutboundResponse:
    status: int
    body: bytes
    location: str | None


def address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return address_allowed(str(mapped))
        if ip.teredo is not None:
            return False
    # is_global excludes loopback, RFC 1918, link-local (169.254.169.254, the cloud metadata address),
    # CGNAT 100.64/10, unspecified 0.0.0.0 and the reserved ranges.
    return bool(ip.is_global) and not ip.is_multicast


def _split(url: str) -> tuple[str, str, int, str]:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise OutboundError(BAD_URL)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise OutboundError(BAD_URL) from exc
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return parts.scheme, parts.hostname, port, path


def host_resolve(host: str, port: int) -> list[tuple[Any, ...]]:
    """The resolver (`socket.getaddrinfo`), named so tests can answer for it without touching the process's
    own name resolution."""
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def address_connect(address: str, port: int, timeout: float | None) -> socket.socket:
    """The one place a connection to a user's destination is opened (to an address already checked)."""
    return socket.create_connection((address, port), timeout)


def resolve_checked(host: str, port: int) -> str:
    """One resolution; the first address, if every address is allowed (one bad address refuses the name)."""
    try:
        infos = host_resolve(host, port)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundError(UNRESOLVABLE) from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise OutboundError(UNRESOLVABLE)
    if not settings.OUTBOUND_ALLOW_PRIVATE and not all(address_allowed(a) for a in addresses):
        raise OutboundError(BLOCKED_DESTINATION)
    return addresses[0]


def url_check(url: str) -> None:
    """Raise OutboundError for a URL that cannot be delivered to now (scheme, private or unresolvable host).
    Sending checks again: what a name resolves to can change after this."""
    _scheme, host, port, _path = _split(url)
    resolve_checked(host, port)


def url_validate(url: str, *, field: str) -> None:
    """400 naming `field` for a URL nothing could be sent to: checked when it is given (a render's
    `callback_url`, an integration's, a webhook endpoint), resolved but never connected to."""
    try:
        url_check(url)
    except OutboundError as exc:
        raise ApplicationError(str(exc), fields={field: str(exc)}) from None


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = address_connect(self._address, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = address_connect(self._address, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]  # http.client keeps the context privately


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> OutboundResponse:
    """POST `body` to `url` once, to a checked address, following no redirect."""
    return request("POST", url, body=body, headers=headers, timeout=timeout)


def request(
    method: str,
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> OutboundResponse:
    """One request to a checked address, following no redirect; at most `max_bytes` of the body are read."""
    scheme, host, port, path = _split(url)
    address = resolve_checked(host, port)
    connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(host, port, address, timeout)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json", **headers})
        response = connection.getresponse()
        content = response.read(max_bytes)
        return OutboundResponse(response.status, content, response.getheader("Location"))
    except (OSError, http.client.HTTPException) as exc:
        raise OutboundError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        connection.close()
