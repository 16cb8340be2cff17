"""`api.request` events for every organization-scoped API call, buffered and written in bulk.

A request only appends a small dict to an in-process buffer (microseconds). After a response has gone out to
the client (Django's request_finished), the worker writes the buffer if AUDIT_API_FLUSH_SECONDS have passed
since its last write or AUDIT_API_FLUSH_MAX events wait: one bulk insert per organization, on the worker's own
database connection (a background thread would need a second connection per worker), and never on the
client's time. A graceful worker exit writes what is left. API calls go to each organization's own API chain
(`api_chain_id`), so their shorter retention (90 days by default) never waits for the main chain's. A failed
write never breaks a request: it is logged and counted in /metrics (`chatapp_audit_write_failures_total`), and
the events of that flush are dropped.
"""

import atexit
import time
from collections import defaultdict, deque

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from prometheus_client import Counter

from audit import context
from audit.audit_events import API_REQUEST
from audit.models import ActorType

logger = structlog.get_logger(__name__)

WRITE_FAILURES = Counter("chatapp_audit_write_failures", "Audit events that could not be written", ["kind"])
RECORDED = Counter("chatapp_audit_api_requests", "api.request audit events written")


def api_chain_id(org_id: int) -> int:
    """An organization's API-call chain: the negative of its id (its main chain is its id; 0 is the platform)."""
    return -org_id


class ApiRequestBuffer:
    def __init__(self):
        self._items: deque = deque()
        self._last_flush = time.monotonic()

    def append(self, item: dict) -> None:
        self._items.append(item)

    def flush_if_due(self, **signal_kwargs) -> None:
        """After a response has gone out (request_finished): write if a second has passed or the buffer is full."""
        if not settings.AUDIT_API_AUTOFLUSH or not self._items:
            return
        if len(self._items) >= settings.AUDIT_API_FLUSH_MAX or (
            time.monotonic() - self._last_flush >= settings.AUDIT_API_FLUSH_SECONDS
        ):
            self.flush()

    def clear(self) -> None:
        self._items.clear()

    def flush(self) -> int:
        """Write everything buffered now. Returns how many events were written."""
        from audit.services import _seal_batch

        self._last_flush = time.monotonic()
        batch = []
        while self._items:
            try:
                batch.append(self._items.popleft())
            except IndexError:
                break
        if not batch:
            return 0
        by_org = defaultdict(list)
        for item in batch:
            by_org[item.pop("org_id")].append(item)
        written = 0
        for org_id, items in by_org.items():
            try:
                with transaction.atomic():
                    _seal_batch(org_id, api_chain_id(org_id), items)
                written += len(items)
            except Exception:
                WRITE_FAILURES.labels(kind="api.request").inc(len(items))
                logger.exception("audit: could not write api.request events", count=len(items), org_id=org_id)
        RECORDED.inc(written)
        return written


buffer = ApiRequestBuffer()
atexit.register(buffer.flush)


class ApiRequestAuditMiddleware:
    """Buffer an `api.request` event for each call to an organization-scoped API route (after the response)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        organization = getattr(request, "organization", None)
        if organization is None or not request.path.startswith("/api/"):
            return response
        try:
            buffer.append(_event(request, response, organization, time.perf_counter() - started))
        except Exception:  # auditing must never break the request it audits
            WRITE_FAILURES.labels(kind="api.request").inc()
            logger.exception("audit: could not buffer an api.request event")
        return response


def _event(request, response, organization, elapsed: float) -> dict:
    user = getattr(request, "user", None)
    ctx = context.current()
    match = request.resolver_match
    route = f"{request.method} /{match.route}" if match else f"{request.method} {request.path}"
    authenticated = user is not None and user.is_authenticated
    return {
        "org_id": organization.pk,
        "occurred_at": timezone.now(),
        "event_code": API_REQUEST.code,
        "event_name": API_REQUEST.name,
        "category": API_REQUEST.category,
        "actor_type": ActorType.USER if authenticated else ActorType.SYSTEM,
        "actor_id": str(user.pk) if authenticated else "",
        "actor_label": user.email if authenticated else "",
        "target_type": "api.route",
        "target_id": "",
        "target_label": route[:255],
        "changes": {},
        "outcome": "success" if response.status_code < 400 else ("denied" if response.status_code in (401, 403)
                                                                 else "failure"),
        "ip": ctx.ip,
        "user_agent": ctx.user_agent,
        "request_id": ctx.request_id,
        "session_ref": ctx.session_ref,
        "api_key_id": ctx.api_key_id,
        "metadata": {"method": request.method, "status": response.status_code,
                     "latency_ms": round(elapsed * 1000, 2)},
    }  # fmt: skip
