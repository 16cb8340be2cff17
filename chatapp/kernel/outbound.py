"""The one outbound HTTP transport for URLs that organization admins choose (webhooks, SIEMs, IdPs, integrations).

An admin-chosen host could point at our own network (the cloud metadata service, the database, localhost), so
every request goes through the same rules (PITFALLS "Outbound HTTP"):

- resolve the host once and require EVERY resolved address to be globally routable, after unwrapping the IPv4
  address embedded in IPv6 forms (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`,
  6to4 `2002::/16`) and refusing Teredo; Python alone treats `::ffff:127.0.0.1` and `64:ff9b::7f00:1` as global;
- connect to the address that was checked (no second lookup that a rebinding DNS server could answer
  differently), verifying TLS certificates against the host name;
- follow no redirect unless the caller asks, and then check every hop with the same rules;
- only the ports the policy allows (80 and 443 by default), https unless the policy allows plain http;
- cap the time of each socket operation and of the whole request, and the size of the response read.

The operator can trust internal hosts with `OUTBOUND_ALLOWED_HOSTS` (exact host names, `.suffix` for a domain,
or CIDR networks): those may resolve to private addresses and use any port. A policy with `allow_private` lifts
the address, port and https rules altogether (tests and on-premises installs, off by default everywhere).
"""

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass, field, replace
from urllib.parse import urljoin, urlsplit

from django.conf import settings

TIMEOUT_SECONDS = 5.0
MAX_RESPONSE_BYTES = 64 * 1024
DEFAULT_PORTS = frozenset({80, 443})

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class OutboundError(Exception):
    """A request failed; the message is short and safe to store and show (no secrets, no response bodies)."""


class AddressRefused(OutboundError):
    """The URL or one of its host's addresses is not allowed (SSRF rule); nothing was connected to."""


@dataclass(frozen=True)
class Policy:
    """What one caller may reach. `ports=None` means any port (for callers whose protocol has its own ports)."""

    allow_private: bool = False
    ports: frozenset[int] | None = DEFAULT_PORTS
    require_https: bool = True
    timeout: float = TIMEOUT_SECONDS
    max_response_bytes: int = MAX_RESPONSE_BYTES
    user_agent: str = "chatapp/1"
    allowed_hosts: tuple[str, ...] = field(default=())

    @classmethod
    def from_settings(cls, *, allow_private: bool = False, **overrides) -> "Policy":
        """The operator's defaults: OUTBOUND_ALLOWED_PORTS and OUTBOUND_ALLOWED_HOSTS from settings."""
        ports = getattr(settings, "OUTBOUND_ALLOWED_PORTS", None) or sorted(DEFAULT_PORTS)
        hosts = tuple(getattr(settings, "OUTBOUND_ALLOWED_HOSTS", ()) or ())
        policy = cls(allow_private=allow_private, ports=frozenset(int(p) for p in ports), allowed_hosts=hosts)
        return replace(policy, **overrides)

    def trusts_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        for entry in self.allowed_hosts:
            entry = entry.lower().strip()
            if entry.startswith(".") and host.endswith(entry):
                return True
            if host == entry:
                return True
        return False

    def trusts_address(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        for entry in self.allowed_hosts:
            try:
                if ip in ipaddress.ip_network(entry.strip(), strict=False):
                    return True
            except ValueError:
                continue
        return False


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes  # at most policy.max_response_bytes
    truncated: bool
    elapsed_ms: int


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


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def literal_address_refused(host: str, policy: Policy) -> bool:
    """For validation at save time: the host is an IP literal that a request would refuse."""
    host = host.strip("[]")
    if not _is_ip(host) or policy.allow_private:
        return False
    return not address_is_public(host) and not policy.trusts_address(host)


def check_url(url: str, policy: Policy) -> str:
    """The reason a URL is refused before any connection, or "" (for validation at save time and per request)."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and (policy.allow_private or not policy.require_https)):
        return "Use an https:// URL."
    if not parts.hostname:
        return "The URL has no host."
    if parts.username or parts.password:
        return "The URL must not contain credentials."
    try:
        port = parts.port
    except ValueError:
        return "The URL has an invalid port."
    if literal_address_refused(parts.hostname, policy):
        return "The URL points at a non-public address."
    trusted = policy.trusts_host(parts.hostname) or policy.trusts_address(parts.hostname.strip("[]"))
    if port is not None and policy.ports is not None and not (policy.allow_private or trusted or port in policy.ports):
        allowed = ", ".join(str(p) for p in sorted(policy.ports))
        return f"Port {port} is not allowed (allowed: {allowed})."
    return ""


def resolve(host: str, port: int, policy: Policy) -> list[tuple[int, str]]:
    """(family, address) of every address of `host`; refused unless all are allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundError(f"cannot resolve {host}") from exc
    addresses = list(dict.fromkeys((family, sockaddr[0]) for family, _, _, _, sockaddr in infos))
    if not addresses:
        raise OutboundError(f"cannot resolve {host}")
    if not policy.allow_private and not policy.trusts_host(host):
        refused = [a for _, a in addresses if not address_is_public(a) and not policy.trusts_address(a)]
        if refused:
            raise AddressRefused(f"{host} resolves to a non-public address ({refused[0]})")
    return addresses


def _short(exc) -> str:
    return type(exc).__name__ if exc is not None else "no address"


def connect(host: str, port: int, policy: Policy, timeout: float | None = None) -> socket.socket:
    """A TCP connection to one of the checked addresses of host (tried in order)."""
    timeout = policy.timeout if timeout is None else timeout
    last_error = None
    for family, address in resolve(host, port, policy):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
            return sock
        except OSError as exc:
            sock.close()
            last_error = exc
    raise OutboundError(f"cannot connect to {host}:{port} ({_short(last_error)})")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    policy: Policy

    def connect(self):
        self.sock = connect(self.host, self.port, self.policy, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    policy: Policy

    def connect(self):
        # connect to the checked address, but verify the certificate against the host name (SNI too)
        self.sock = self._context.wrap_socket(
            connect(self.host, self.port, self.policy, self.timeout), server_hostname=self.host
        )


def _once(method, url, body, headers, policy, deadline) -> Response:
    problem = check_url(url, policy)
    if problem:
        raise AddressRefused(problem)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timeout = max(0.05, min(policy.timeout, deadline - time.monotonic()))
    if parts.scheme == "https":
        conn = _PinnedHTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=ssl.create_default_context())
    else:
        conn = _PinnedHTTPConnection(parts.hostname, parts.port, timeout=timeout)
    conn.policy = policy
    started = time.monotonic()
    try:
        conn.request(method, target, body=body, headers={"User-Agent": policy.user_agent, **(headers or {})})
        response = conn.getresponse()
        chunks, size = [], 0
        while size <= policy.max_response_bytes:
            if time.monotonic() > deadline:
                raise OutboundError("the response took too long")
            chunk = response.read(min(16384, policy.max_response_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
        return Response(
            status=response.status,
            headers={k.lower(): v for k, v in response.getheaders()},
            body=data[: policy.max_response_bytes],
            truncated=len(data) > policy.max_response_bytes,
            elapsed_ms=int((time.monotonic() - started) * 1000),
        )
    except OutboundError:
        raise
    except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
        raise OutboundError(f"request to {parts.hostname} failed ({_short(exc)})") from exc
    finally:
        conn.close()


def request(
    method: str,
    url: str,
    *,
    policy: Policy,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    max_redirects: int = 0,
) -> Response:
    """One HTTP request under the policy. A 3xx is returned as a status unless `max_redirects` > 0, in which case
    each Location is checked like the first URL (a redirect to an internal host is refused, never connected to);
    POST bodies are not re-sent on redirects (303/301/302 become GET, 307/308 are not followed for POST)."""
    deadline = time.monotonic() + policy.timeout * 2
    for _ in range(max_redirects + 1):
        response = _once(method, url, body, headers, policy, deadline)
        location = response.headers.get("location")
        if response.status not in (301, 302, 303, 307, 308) or not location or max_redirects == 0:
            return response
        if response.status in (307, 308) and method != "GET":
            return response
        url, method, body = urljoin(url, location), "GET", None
    raise OutboundError("too many redirects")
