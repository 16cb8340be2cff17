"""Outbound connections to streaming destinations, safe against SSRF (the rules are chatapp.kernel.outbound's).

A destination's host is chosen by an organization's admin, so it could point at our own network (the metadata
service, the database, localhost). Every connection therefore: resolves the host once, requires EVERY resolved
address to be global (IPv4-mapped, IPv4-compatible, NAT64 and 6to4 IPv6 forms unwrapped first, since Python does
not see `::ffff:127.0.0.1` as loopback), connects to the address it validated (no second lookup an attacker's DNS
could answer differently), and never follows redirects. `AUDIT_STREAM_ALLOW_PRIVATE` lifts the address rule (and
allows plain http) for tests and on-premises collectors; it is off by default.
"""

import contextlib
import socket
import ssl

from django.conf import settings

from chatapp.kernel import outbound
from chatapp.kernel.outbound import address_is_public  # noqa: F401  (re-exported: accounts.sso.saml uses it)

TIMEOUT_SECONDS = outbound.TIMEOUT_SECONDS
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "chatapp-audit-stream/1"

# The rules live in chatapp.kernel.outbound; these names stay so the streaming code reads as before.
DeliveryError = outbound.OutboundError
AddressRefused = outbound.AddressRefused


def allow_private() -> bool:
    return settings.AUDIT_STREAM_ALLOW_PRIVATE


def policy() -> outbound.Policy:
    # Collectors listen on their own ports (syslog 6514/601, SIEM webhooks anywhere): no port rule here.
    return outbound.Policy.from_settings(
        allow_private=allow_private(), ports=None, timeout=TIMEOUT_SECONDS,
        max_response_bytes=MAX_RESPONSE_BYTES, user_agent=USER_AGENT,
    )  # fmt: skip


def literal_address_refused(host: str) -> bool:
    """For validation at save time: the host is an IP literal that delivery would refuse."""
    return outbound.literal_address_refused(host, policy())


def check_url(url: str) -> str:
    """The reason a webhook URL is refused before any connection, or ""."""
    problem = outbound.check_url(url, policy())
    return "Put credentials in the signing secret, not in the URL." if "credentials" in problem else problem


def connect(host: str, port: int, timeout: float = TIMEOUT_SECONDS) -> socket.socket:
    return outbound.connect(host, port, policy(), timeout)


def _short(exc) -> str:
    return type(exc).__name__ if exc is not None else "no address"


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT_SECONDS) -> int:
    """POST body to url and return the status; redirects are not followed (a 3xx is just a status)."""
    problem = check_url(url)
    if problem:
        raise AddressRefused(problem)
    response = outbound.request("POST", url, body=body, headers=headers, policy=policy())
    return response.status


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
