"""Outbound HTTP for plugins: the one place a plugin's request leaves the server.

It goes through the one SSRF-safe transport (chatapp.kernel.outbound: every resolved address must be public, the
validated address is the one connected to, no redirects followed, ports 80/443 unless the operator allows more).
`INTEGRATIONS_ALLOW_PRIVATE` (tests, on-premises) lets plugins and integrations reach private addresses.
"""

from dataclasses import dataclass

from django.conf import settings

from chatapp.kernel import outbound

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
    policy = outbound.Policy.from_settings(
        allow_private=settings.INTEGRATIONS_ALLOW_PRIVATE, timeout=TIMEOUT_SECONDS,
        max_response_bytes=MAX_RESPONSE_BYTES + 1, user_agent=USER_AGENT,
    )  # fmt: skip
    problem = outbound.check_url(url, policy)
    if problem:
        raise OutboundError(problem)
    # The plugin chooses its headers, except those that steer the connection itself.
    headers = {k: v for k, v in headers.items() if str(k).lower() not in CONNECTION_HEADERS}
    try:
        response = outbound.request(method, url, policy=policy, body=body or None, headers=headers)
    except outbound.OutboundError as exc:
        raise OutboundError(str(exc)) from None
    if response.truncated or len(response.body) > MAX_RESPONSE_BYTES:
        raise OutboundError(f"the response is larger than {MAX_RESPONSE_BYTES} bytes")
    return Response(
        status=response.status,
        headers={k.lower(): v for k, v in response.headers.items()},
        body=response.body.decode("utf-8", "replace"),
    )
