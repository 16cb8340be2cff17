"""Outbound HTTP for plugins: the one place a plugin's request leaves the server.

It goes through the SSRF-safe connection code of audit/streaming/transport.py (every resolved address must be
public, the validated address is the one connected to, no redirects followed). When the shared
chatapp/kernel/outbound.py lands, only this module changes.
"""

import http.client
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from audit.streaming import transport

MAX_RESPONSE_BYTES = 256 * 1024
TIMEOUT_SECONDS = 5.0
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})
USER_AGENT = "chatapp-plugin/1"
CONNECTION_HEADERS = frozenset({"host", "connection", "transfer-encoding", "content-length", "upgrade", "te",
                                "proxy-authorization", "keep-alive", "user-agent"})  # fmt: skip


class OutboundError(Exception):
    """The request was refused or failed; the message is safe to show the plugin and record."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: str


def host_allowed(host: str, domains: list[str]) -> bool:
    """Exact host names, or *.example.com for its subdomains (not example.com itself)."""
    host = (host or "").lower().rstrip(".")
    for domain in domains:
        if domain.startswith("*."):
            if host.endswith(domain[1:]):
                return True
        elif host == domain:
            return True
    return False


def request(method: str, url: str, *, headers: dict[str, str], body: bytes) -> Response:
    method = method.upper()
    if method not in METHODS:
        raise OutboundError(f"method {method} is not allowed")
    problem = transport.check_url(url)
    if problem:
        raise OutboundError(problem)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        conn = transport._PinnedHTTPSConnection(
            parts.hostname, parts.port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context()
        )
    else:
        conn = transport._PinnedHTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT_SECONDS)
    try:
        # The plugin chooses its headers, except those that steer the connection itself.
        headers = {k: v for k, v in headers.items() if str(k).lower() not in CONNECTION_HEADERS}
        conn.request(method, target, body=body or None, headers={**headers, "User-Agent": USER_AGENT})
        response = conn.getresponse()
        data = response.read(MAX_RESPONSE_BYTES + 1)
        if len(data) > MAX_RESPONSE_BYTES:
            raise OutboundError(f"the response is larger than {MAX_RESPONSE_BYTES} bytes")
        return Response(
            status=response.status,
            headers={k.lower(): v for k, v in response.getheaders()},
            body=data.decode("utf-8", "replace"),
        )
    except transport.DeliveryError as exc:
        raise OutboundError(str(exc)) from None
    except (OSError, http.client.HTTPException) as exc:
        raise OutboundError(f"request failed ({type(exc).__name__})") from None
    finally:
        conn.close()
