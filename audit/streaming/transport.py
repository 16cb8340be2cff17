"""Outbound connections to streaming destinations, safe against SSRF.

A destination's host is chosen by an organization's admin, so it could point at our own network (the metadata
service, the database, localhost). Every connection therefore: resolves the host once, requires EVERY resolved
address to be global (IPv4-mapped, IPv4-compatible, NAT64 and 6to4 IPv6 forms unwrapped first, since Python does
not see `::ffff:127.0.0.1` as loopback), connects to the address it validated (no second lookup an attacker's DNS
could answer differently), and never follows redirects. `AUDIT_STREAM_ALLOW_PRIVATE` lifts the address rule (and
allows plain http) for tests and on-premises collectors; it is off by default.
"""

import contextlib
import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

from django.conf import settings

TIMEOUT_SECONDS = 5.0
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "chatapp-audit-stream/1"

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class DeliveryError(Exception):
    """A delivery failed; the message is short and safe to store and show (no secrets, no response bodies)."""


class AddressRefused(DeliveryError):
    pass


def allow_private() -> bool:
    return settings.AUDIT_STREAM_ALLOW_PRIVATE


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_is_public(address: str) -> bool:
    """True only for a global unicast address, after unwrapping IPv4 addresses embedded in IPv6 forms."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.teredo is not None:
            return False
        ip = _embedded_ipv4(ip) or ip
    return ip.is_global and not ip.is_multicast


def literal_address_refused(host: str) -> bool:
    """For validation at save time: the host is an IP literal that delivery would refuse."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not allow_private() and not address_is_public(host.strip("[]"))


def resolve(host: str, port: int) -> list[tuple[int, str]]:
    """(family, address) of every address of `host`; refused unless all are public (or private is allowed)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DeliveryError(f"cannot resolve {host}") from exc
    addresses = list(dict.fromkeys((family, sockaddr[0]) for family, _, _, _, sockaddr in infos))
    if not addresses:
        raise DeliveryError(f"cannot resolve {host}")
    if not allow_private():
        refused = [address for _, address in addresses if not address_is_public(address)]
        if refused:
            raise AddressRefused(f"{host} resolves to a non-public address ({refused[0]})")
    return addresses


def connect(host: str, port: int, timeout: float = TIMEOUT_SECONDS) -> socket.socket:
    """A TCP connection to one of the validated addresses of host (tried in order)."""
    last_error = None
    for family, address in resolve(host, port):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
            return sock
        except OSError as exc:
            sock.close()
            last_error = exc
    raise DeliveryError(f"cannot connect to {host}:{port} ({_short(last_error)})")


def _short(exc) -> str:
    return type(exc).__name__ if exc is not None else "no address"


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def connect(self):
        self.sock = connect(self.host, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def connect(self):
        # connect to the validated address, but verify the certificate against the host name (SNI too)
        self.sock = self._context.wrap_socket(connect(self.host, self.port, self.timeout), server_hostname=self.host)


def check_url(url: str) -> str:
    """The reason a webhook URL is refused before any connection, or ""."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and allow_private()):
        return "Use an https:// URL."
    if not parts.hostname:
        return "The URL has no host."
    if parts.username or parts.password:
        return "Put credentials in the signing secret, not in the URL."
    if literal_address_refused(parts.hostname):
        return "The URL points at a non-public address."
    return ""


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT_SECONDS) -> int:
    """POST body to url and return the status; redirects are not followed (a 3xx is just a status)."""
    problem = check_url(url)
    if problem:
        raise AddressRefused(problem)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        conn = _PinnedHTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=ssl.create_default_context())
    else:
        conn = _PinnedHTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("POST", target, body=body, headers={"User-Agent": USER_AGENT, **headers})
        response = conn.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        return response.status
    except DeliveryError:
        raise
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"webhook request failed ({_short(exc)})") from exc
    finally:
        conn.close()


def syslog_send(host: str, port: int, use_tls: bool, data: bytes, timeout: float = TIMEOUT_SECONDS) -> None:
    """Write octet-counted frames to a syslog collector over TCP (TLS with the default context if asked)."""
    sock = connect(host, port, timeout)
    try:
        if use_tls:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        # Wait for the collector to close its side: a reset then means it did not take the data. Collectors that
        # keep the connection open cost one timeout; the data was written either way.
        with contextlib.suppress(TimeoutError):
            sock.recv(1)
    except (OSError, ssl.SSLError) as exc:
        raise DeliveryError(f"syslog send failed ({_short(exc)})") from exc
    finally:
        sock.close()
