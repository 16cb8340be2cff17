"""`track()`: the one way services record product events. Cheap and never breaks its caller.

A call validates the name against the catalogue, computes the pseudonymous person number and truncated address,
and appends a tuple to an in-process buffer (a few microseconds). The buffer is written in bulk after the response
has gone out (request_finished), after each Celery task, when it holds ANALYTICS_FLUSH_MAX events, and at exit.
Organizations that opted out are dropped at write time (one query per flush, not one per event). A failed write
is logged and counted in /metrics (`chatapp_analytics_write_failures_total`) and never raised.
"""

import atexit
import ipaddress
import threading
import time
import uuid as uuid_lib
from collections import deque
from datetime import datetime

import structlog
from django.conf import settings
from django.utils import timezone
from django.utils.crypto import salted_hmac
from prometheus_client import Counter

from analytics import events as event_catalogue
from chatapp.kernel.registry import RegistryError

logger = structlog.get_logger(__name__)

WRITE_FAILURES = Counter("chatapp_analytics_write_failures", "Analytics events that could not be written")
RECORDED = Counter("chatapp_analytics_events", "Analytics events written", ["source"])
UNDECLARED = Counter("chatapp_analytics_undeclared_events", "track() calls with an undeclared event name")


class UndeclaredEvent(RegistryError):
    pass


def person_of(user_id: int | None) -> int:
    """The pseudonymous person number of a user: a keyed hash (SECRET_KEY), stable, not reversible without it."""
    if not user_id:
        return 0
    return _person(f"u:{user_id}")


def person_of_distinct_id(distinct_id: str) -> int:
    """The person number of a client's own id (PostHog distinct_id): hashed too, so raw ids are never stored."""
    return _person(f"d:{distinct_id}") if distinct_id else 0


def _person(value: str) -> int:
    number = int.from_bytes(salted_hmac("analytics.person", value).digest()[:8], "big", signed=True)
    return number or 1  # 0 means "nobody"


def truncate_ip(ip: str | None) -> str | None:
    """Keep the network, drop the host: IPv4 /24, IPv6 /48 (enough for a country, not for a household)."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


class EventBuffer:
    """The process's pending events, as tuples (org_id, name, occurred_at, person, channel_id, client, ip, props)."""

    def __init__(self):
        self._items: deque = deque()
        self._last_flush = time.monotonic()
        self._lock = threading.Lock()

    def __len__(self):
        return len(self._items)

    def append(self, item: tuple) -> None:
        self._items.append(item)
        if len(self._items) >= settings.ANALYTICS_FLUSH_MAX and settings.ANALYTICS_AUTOFLUSH:
            self.flush()

    def clear(self) -> None:
        self._items.clear()

    def flush_if_due(self, **signal_kwargs) -> None:
        if not settings.ANALYTICS_AUTOFLUSH or not self._items:
            return
        if len(self._items) >= settings.ANALYTICS_FLUSH_MAX or (
            time.monotonic() - self._last_flush >= settings.ANALYTICS_FLUSH_SECONDS
        ):
            self.flush()

    def flush(self, **signal_kwargs) -> int:
        """Write everything buffered now; returns how many events were written. Never raises."""
        self._last_flush = time.monotonic()
        batch = []
        while True:
            try:
                batch.append(self._items.popleft())
            except IndexError:
                break
        if not batch:
            return 0
        try:
            from django.db import transaction

            from analytics.services import events_store

            with transaction.atomic():  # a savepoint inside a caller's transaction: a failure leaves it usable
                return events_store(rows=batch, source="server")
        except Exception:
            WRITE_FAILURES.inc(len(batch))
            logger.exception("analytics: could not write events", count=len(batch))
            return 0


buffer = EventBuffer()
atexit.register(buffer.flush)


def track(
    event: "event_catalogue.EventType | str",
    *,
    org,
    user=None,
    properties: dict | None = None,
    client: str | None = None,
    channel=None,
    occurred_at: datetime | None = None,
) -> None:
    """Record a product event for `org` (an Organization or its id), done by `user` (or the system).

    `client` (web, mobile, api, server) defaults to what the request says: an API key is "api", a mobile user
    agent "mobile", another browser "web", and no request (Celery, commands) "server".

    Never raises for a runtime problem; an undeclared event name raises UndeclaredEvent when
    ANALYTICS_STRICT_EVENTS is on (tests, development), since that is a programming error.
    """
    name = event.key if isinstance(event, event_catalogue.EventType) else event
    if name not in event_catalogue.catalogue:
        UNDECLARED.inc()
        if settings.ANALYTICS_STRICT_EVENTS:
            raise UndeclaredEvent(f"analytics event {name!r} is not declared in the catalogue (analytics/events.py)")
        logger.warning("analytics: undeclared event dropped", event=name)
        return
    if not settings.ANALYTICS_ENABLED:
        return
    try:
        from audit import context

        user_id = getattr(user, "pk", user) if user is not None else None
        ctx = context.current()
        buffer.append(
            (
                getattr(org, "pk", org),
                name,
                occurred_at or timezone.now(),
                person_of(user_id),
                getattr(channel, "pk", channel),
                client or client_of(ctx),
                truncate_ip(ctx.ip),
                properties or {},
            )
        )
    except Exception:
        WRITE_FAILURES.inc()
        logger.exception("analytics: could not buffer an event", event=name)


_MOBILE_AGENTS = ("mobile", "android", "iphone", "ipad", "okhttp", "cfnetwork", "dalvik")


def client_of(ctx) -> str:
    """The client of the current request, from its audit context."""
    if ctx.api_key_id:
        return "api"
    agent = (ctx.user_agent or "").lower()
    if not agent:
        return "server"
    return "mobile" if any(marker in agent for marker in _MOBILE_AGENTS) else "web"


def track_for_memberships(event, *, user, **kwargs) -> None:
    """Record an event that belongs to a person rather than one organization (a password sign-in) in each
    organization they are an active member of."""
    try:
        from accounts.models import Membership

        org_ids = Membership.objects.filter(user=user, is_active=True).values_list("organization_id", flat=True)
        for org_id in org_ids:
            track(event, org=org_id, user=user, **kwargs)
    except UndeclaredEvent:
        raise
    except Exception:
        WRITE_FAILURES.inc()
        logger.exception("analytics: could not track a sign-in")


def new_uuid() -> uuid_lib.UUID:
    return uuid_lib.uuid4()


def connect_signals() -> None:
    from celery.signals import task_postrun
    from django.core.signals import request_finished

    request_finished.connect(buffer.flush_if_due, dispatch_uid="analytics-flush")
    task_postrun.connect(buffer.flush, dispatch_uid="analytics-flush-task", weak=False)
