"""The request context of audit events: who is calling from where, set once per request by the middleware."""

import hashlib
import ipaddress
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""
    session_ref: str = ""
    api_key_id: str = ""


_current: ContextVar[RequestContext | None] = ContextVar("audit_request_context", default=None)


def current() -> RequestContext:
    return _current.get() or RequestContext()


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or the entry AUDIT_TRUSTED_PROXIES hops from the right of
    X-Forwarded-For when that many trusted proxies stand in front (a client can prepend anything it likes)."""
    hops = settings.AUDIT_TRUSTED_PROXIES
    candidate = request.META.get("REMOTE_ADDR")
    if hops:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate)) if candidate else None
    except ValueError:
        return None


def session_ref(session_key: str | None) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()[:32] if session_key else ""


class AuditContextMiddleware:
    """Bind the request's audit context for the services it calls (after RequestIdMiddleware and sessions)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        token = _current.set(
            RequestContext(
                ip=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
                request_id=getattr(request, "request_id", ""),
                session_ref=session_ref(session.session_key if session is not None else None),
            )
        )
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)
