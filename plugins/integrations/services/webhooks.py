"""Outgoing webhooks: endpoints, events, signed deliveries with retries, the delivery log, replay and health.

Signing follows Standard Webhooks (https://www.standardwebhooks.com): headers `webhook-id` (the event's id, the
same on every attempt and replay, so receivers de-duplicate on it), `webhook-timestamp` (Unix seconds of the
attempt) and `webhook-signature` ("v1,<base64 HMAC-SHA256 of '{id}.{timestamp}.{body}'>", keyed with the
base64-decoded part of the endpoint's `whsec_` secret). During a rotation both secrets sign (space-separated
signatures), until the overlap ends.

Delivery is at-least-once: a delivery row per (event, endpoint) is written with the event, in the caller's
transaction, and a Celery task is queued after commit. A failed attempt is retried with exponential backoff and
jitter (1 min, 2, 4, ... capped at 6 h, each times 0.5-1.0 at random) until the last attempt, after which the
delivery is a dead letter (replayable). Every attempt is logged. Endpoints that fail for N days are disabled
and the organization's owners are emailed.
"""

import base64
import hashlib
import hmac
import json
import logging
import random
import secrets as secrets_module
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, Min, Q
from django.utils import timezone
from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from accounts.models import Membership
from audit.services import Actor, audit_record, diff
from chatapp.kernel import outbound
from plugins.integrations import audit_events as events
from plugins.integrations.models import Delivery, DeliveryAttempt, DeliveryStatus, WebhookEndpoint, WebhookEvent
from plugins.integrations.services.common import policy, require_manage

logger = logging.getLogger(__name__)

ENVELOPE_VERSION = "1"
EVENT_TYPES = ("message.posted", "channel.created", "member.joined", "audit.*", "webhook.test")
CONDITION_OPS = ("eq", "ne", "in", "contains", "startswith", "exists")
BACKOFF_BASE_SECONDS = 60
BACKOFF_MAX_SECONDS = 6 * 3600
SEND_BATCH = 50  # deliveries sent before their attempts are recorded (one transaction)
CLAIM_SECONDS = 120  # an attempt in progress holds its delivery this long (a crashed worker's is retried after)
ROTATION_OVERLAP = timedelta(hours=24)
RESPONSE_LOG_BYTES = 2048
REQUEST_LOG_BYTES = 4096
TEMPLATE_MAX_OUTPUT = 256 * 1024
AUDITED_FIELDS = ("name", "url", "enabled", "event_types", "filters", "body_template")
SYSTEM = Actor.system("outgoing webhooks")

_jinja = ImmutableSandboxedEnvironment(autoescape=False)


# --- secrets and signatures ---------------------------------------------------------------------------------------


def generate_secret() -> str:
    return "whsec_" + base64.b64encode(secrets_module.token_bytes(32)).decode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    keys = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires and endpoint.previous_secret_expires > now:
        keys.append(endpoint.previous_secret)
    return keys


# --- validation ----------------------------------------------------------------------------------------------------


def _type_known(pattern: str) -> bool:
    return pattern in EVENT_TYPES or pattern == "*" or (pattern.startswith("audit.") and len(pattern) > 6)


def _validate(endpoint: WebhookEndpoint) -> None:
    errors: dict[str, list[str]] = {}
    if not endpoint.name.strip():
        errors["name"] = ["Required."]
    problem = outbound.check_url(endpoint.url, policy()) if endpoint.url else "Required."
    if problem:
        errors["url"] = [problem]
    types = endpoint.event_types
    if not isinstance(types, list) or not types or not all(isinstance(t, str) and _type_known(t) for t in types):
        errors["event_types"] = [f"A non-empty list of: {', '.join(EVENT_TYPES)} (or audit.<event name>)."]
    filters = endpoint.filters or {}
    if not isinstance(filters, dict) or set(filters) - {"channel_ids", "conditions"}:
        errors["filters"] = ['An object with "channel_ids" and/or "conditions".']
    else:
        channel_ids = filters.get("channel_ids", [])
        if not isinstance(channel_ids, list) or not all(isinstance(c, int) for c in channel_ids):
            errors["filters"] = ["channel_ids: a list of channel ids."]
        for condition in filters.get("conditions", []):
            if (
                not isinstance(condition, dict)
                or not isinstance(condition.get("field"), str)
                or condition.get("op") not in CONDITION_OPS
                or set(condition) - {"field", "op", "value"}
            ):
                errors["filters"] = [f'conditions: {{"field": "data.x.y", "op": one of {CONDITION_OPS}, "value"}}.']
                break
    if endpoint.body_template:
        try:
            _jinja.from_string(endpoint.body_template)
        except TemplateError as exc:
            errors["body_template"] = [f"Template error: {exc}"]
    if errors:
        raise ValidationError(errors)


def _audited(endpoint: WebhookEndpoint) -> dict:
    values = {name: getattr(endpoint, name) for name in AUDITED_FIELDS}
    values["url"] = endpoint.url.split("?", 1)[0]  # a query string may carry a token
    values["body_template"] = bool(endpoint.body_template)
    return values


# --- endpoints -----------------------------------------------------------------------------------------------------


@transaction.atomic
def endpoint_create(*, actor, org, name: str, url: str, event_types: list, filters: dict | None = None,
                    body_template: str = "", enabled: bool = True) -> tuple[WebhookEndpoint, str]:  # fmt: skip
    """Add an outgoing webhook (org.manage). Returns it with its signing secret, which is shown only now."""
    require_manage(actor, org)
    secret = generate_secret()
    endpoint = WebhookEndpoint(
        organization=org, name=name, url=url, event_types=event_types, filters=filters or {},
        body_template=body_template, enabled=enabled, secret=secret, created_by=actor,
    )  # fmt: skip
    _validate(endpoint)
    if WebhookEndpoint.objects.filter(organization=org, name=endpoint.name).exists():
        raise ValidationError({"name": ["An endpoint with this name exists."]})
    endpoint.save()
    _start_cursor(org)
    audit_record(org=org, event=events.ENDPOINT_CREATED, actor=actor, target=endpoint,
                 changes=diff({}, _audited(endpoint)))  # fmt: skip
    return endpoint, secret


@transaction.atomic
def endpoint_update(*, actor, org, endpoint: WebhookEndpoint, **values) -> WebhookEndpoint:
    """Change an endpoint (org.manage). Re-enabling clears the failure state."""
    require_manage(actor, org)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk, organization=org)
    before = _audited(endpoint)
    for name, value in values.items():
        if name not in AUDITED_FIELDS:
            raise ValidationError({name: ["Cannot be changed."]})
        setattr(endpoint, name, value if value is not None or name != "filters" else {})
    _validate(endpoint)
    if WebhookEndpoint.objects.filter(organization=org, name=endpoint.name).exclude(pk=endpoint.pk).exists():
        raise ValidationError({"name": ["An endpoint with this name exists."]})
    if values.get("enabled") and not before["enabled"]:
        endpoint.failing_since, endpoint.disabled_reason = None, ""
        # deliveries parked while it was disabled are due again (dead letters wait for a replay)
        Delivery.objects.filter(
            endpoint=endpoint,
            status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING],
            next_attempt_at__isnull=True,
        ).update(next_attempt_at=timezone.now())
    endpoint.save()
    audit_record(org=org, event=events.ENDPOINT_UPDATED, actor=actor, target=endpoint,
                 changes=diff(before, _audited(endpoint)))  # fmt: skip
    return endpoint


@transaction.atomic
def endpoint_delete(*, actor, org, endpoint: WebhookEndpoint) -> None:
    require_manage(actor, org)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk, organization=org)
    audit_record(org=org, event=events.ENDPOINT_DELETED, actor=actor, target=endpoint,
                 changes=diff(_audited(endpoint), {}))  # fmt: skip
    endpoint.delete()


@transaction.atomic
def endpoint_rotate_secret(*, actor, org, endpoint: WebhookEndpoint, overlap: timedelta = ROTATION_OVERLAP) -> str:
    """A new signing secret, returned once; the old one keeps signing too until the overlap ends, so receivers
    can switch without losing a delivery. overlap=0 revokes the old secret at once (a leaked secret)."""
    require_manage(actor, org)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk, organization=org)
    secret = generate_secret()
    if overlap > timedelta(0):
        endpoint.previous_secret, endpoint.previous_secret_expires = endpoint.secret, timezone.now() + overlap
    else:
        endpoint.previous_secret, endpoint.previous_secret_expires = None, None
    endpoint.secret = secret
    endpoint.save()
    audit_record(org=org, event=events.SECRET_ROTATED, actor=actor, target=endpoint,
                 metadata={"overlap_seconds": int(overlap.total_seconds())})  # fmt: skip
    return secret


# --- events and fan-out --------------------------------------------------------------------------------------------


def _type_matches(pattern: str, event_type: str) -> bool:
    if pattern == "*" or pattern == event_type:
        return True
    return pattern.endswith(".*") and event_type.startswith(pattern[:-1])


def _lookup(document, path: str):
    value = document
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return _MISSING
    return value


_MISSING = object()


def _condition_holds(condition: dict, envelope: dict) -> bool:
    value, op, expected = _lookup(envelope, condition["field"]), condition["op"], condition.get("value")
    if op == "exists":
        return (value is not _MISSING) == (expected is not False)
    if value is _MISSING:
        return op == "ne"
    if op == "eq":
        return value == expected
    if op == "ne":
        return value != expected
    if op == "in":
        return isinstance(expected, list) and value in expected
    if op == "contains":
        return isinstance(value, str | list) and expected in value
    if op == "startswith":
        return isinstance(value, str) and isinstance(expected, str) and value.startswith(expected)
    return False


def endpoint_wants(endpoint: WebhookEndpoint, envelope: dict) -> bool:
    """Whether the endpoint subscribes to this event and its filters let it through."""
    if not any(_type_matches(pattern, envelope["type"]) for pattern in endpoint.event_types):
        return False
    filters = endpoint.filters or {}
    channel_ids = filters.get("channel_ids")
    if channel_ids and _lookup(envelope, "data.channel.id") not in channel_ids:
        return False
    return all(_condition_holds(condition, envelope) for condition in filters.get("conditions", []))


def envelope_of(event: WebhookEvent, org_slug: str) -> dict:
    """The versioned JSON envelope (docs/integrations.md, "Outgoing webhooks")."""
    return {
        "id": event.event_id,
        "type": event.event_type,
        "version": ENVELOPE_VERSION,
        "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "organization": {"id": event.organization_id, "slug": org_slug},
        "data": event.data,
    }


def new_event_id() -> str:
    return "evt_" + uuid.uuid4().hex


def event_publish(*, org, event_type: str, data: dict, occurred_at: datetime | None = None) -> WebhookEvent | None:
    """Record one event and a delivery for every enabled endpoint of the organization that wants it; the
    deliveries are queued when the caller's transaction commits. None when no endpoint wants it (nothing kept)."""
    event = WebhookEvent(
        organization=org, event_id=new_event_id(), event_type=event_type, data=data,
        occurred_at=occurred_at or timezone.now(),
    )  # fmt: skip
    envelope = envelope_of(event, org.slug)
    candidates = WebhookEndpoint.objects.for_org(org).filter(enabled=True).only("pk", "event_types", "filters")
    endpoints = [e for e in candidates if endpoint_wants(e, envelope)]
    if not endpoints:
        return None
    with transaction.atomic():
        event.save()
        now = timezone.now()
        deliveries = Delivery.objects.bulk_create(
            [Delivery(organization=org, endpoint=e, event=event, next_attempt_at=now, created=now) for e in endpoints]
        )
    _queue([d.pk for d in deliveries])
    return event


def _queue(delivery_ids: list[int]) -> None:
    from plugins.integrations import tasks

    if delivery_ids:
        transaction.on_commit(lambda: tasks.deliver_many.delay(delivery_ids))


# --- delivering ----------------------------------------------------------------------------------------------------


def render_body(endpoint: WebhookEndpoint, envelope: dict) -> tuple[bytes, str]:
    """(body, content type): the JSON envelope, or the endpoint's template rendered in Jinja2's sandbox."""
    if not endpoint.body_template:
        return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode(), "application/json"
    text = _jinja.from_string(endpoint.body_template).render(event=envelope, data=envelope["data"])
    if len(text) > TEMPLATE_MAX_OUTPUT:
        raise TemplateError("the rendered body is larger than 256 KiB")
    try:
        json.loads(text)
        return text.encode(), "application/json"
    except ValueError:
        return text.encode(), "text/plain; charset=utf-8"


def backoff_seconds(attempts: int) -> float:
    return min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempts - 1)) * random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not a secret)


def _claim(ids: list[int], now: datetime, force: bool) -> list[Delivery]:
    """Take the due deliveries among `ids` for one attempt each: one UPDATE stamps them with a lease unique to this
    call (in next_attempt_at), one SELECT reads back what this call won, so two workers never send one delivery at
    once and a crashed worker's deliveries are due again when the lease ends."""
    due = Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING], pk__in=ids)
    if not force:
        due &= Q(next_attempt_at__lte=now)
    lease = now + timedelta(seconds=CLAIM_SECONDS, microseconds=random.randrange(1, 999_999))  # noqa: S311
    if not Delivery.objects.filter(due).update(next_attempt_at=lease):
        return []
    claimed = Delivery.objects.select_related("event", "organization").filter(pk__in=ids, next_attempt_at=lease)
    return list(claimed.order_by("pk"))


def delivery_attempt(delivery_id: int, *, now: datetime | None = None, force: bool = False) -> Delivery | None:
    """Make one attempt of a due delivery (or of a pending one with force=True: a test send)."""
    sent = deliveries_send([delivery_id], now=now, force=force)
    return sent[0] if sent else None


def deliveries_send(ids: list[int], *, now: datetime | None = None, force: bool = False) -> list[Delivery]:
    """Attempt each due delivery among `ids` once, then record every attempt in one transaction. Safe to call
    twice: deliveries not due, held by another worker, succeeded or dead are left alone. Call it outside any
    transaction: it talks to the network between its reads and its writes."""
    now = now or timezone.now()
    deliveries = _claim(ids, now, force)
    if not deliveries:
        return []
    endpoints = WebhookEndpoint.objects.in_bulk({d.endpoint_id for d in deliveries})
    results, parked = [], []
    for delivery in deliveries:
        delivery.endpoint = endpoints[delivery.endpoint_id]  # one instance per endpoint: its secret decrypts once
        if not delivery.endpoint.enabled and not delivery.is_test:
            parked.append(delivery.pk)  # picked up again when the endpoint is enabled (deliveries_due skips it)
            continue
        results.append((delivery, _send(delivery, now)))
    _record(results, parked, now)
    return [delivery for delivery, _ in results]


def _send(delivery: Delivery, now: datetime) -> dict:
    endpoint, event = delivery.endpoint, delivery.event
    envelope = envelope_of(event, delivery.organization.slug)
    timestamp = int(time.time())
    headers, body, status_code, response_body, error, latency = {}, b"", None, "", "", 0
    try:
        body, content_type = render_body(endpoint, envelope)
        headers = {
            "Content-Type": content_type,
            "webhook-id": event.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": " ".join(
                signature(s, event.event_id, timestamp, body) for s in signing_secrets(endpoint, now)
            ),
        }
        response = outbound.request("POST", endpoint.url, body=body, headers=headers, policy=policy(timeout=10.0))
        status_code, latency = response.status, response.elapsed_ms
        response_body = response.body[:RESPONSE_LOG_BYTES].decode("utf-8", "replace")
        if 300 <= status_code < 400:
            error = f"HTTP {status_code}: redirects are not followed"
        elif not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except TemplateError as exc:
        error = f"template error: {exc}"[:300]
    except outbound.OutboundError as exc:
        error = str(exc)[:300]
    return {
        "request_headers": headers, "request_body": body[:REQUEST_LOG_BYTES].decode("utf-8", "replace"),
        "response_status": status_code, "response_body": response_body, "latency_ms": latency, "error": error,
    }  # fmt: skip


@transaction.atomic
def _record(results: list[tuple[Delivery, dict]], parked: list[int], now: datetime) -> None:
    """The attempts, the deliveries' new states and each endpoint's health, in one transaction per batch."""
    if parked:
        Delivery.objects.filter(pk__in=parked).update(next_attempt_at=None)
    attempts, endpoint_state = [], {}
    for delivery, outcome in results:
        number = delivery.attempts + 1
        attempts.append(DeliveryAttempt(organization_id=delivery.organization_id, delivery=delivery, number=number,
                                        started_at=now, **outcome))  # fmt: skip
        error = outcome["error"]
        delivery.attempts, delivery.last_status_code, delivery.last_error = number, outcome["response_status"], error
        endpoint = delivery.endpoint
        state = endpoint_state.setdefault(endpoint.pk, {})
        if not error:
            delivery.status, delivery.next_attempt_at, delivery.finished_at = DeliveryStatus.SUCCEEDED, None, now
            state.update(failing_since=None, last_success_at=now, last_error="")
            endpoint.failing_since = None
            continue
        if delivery.is_test or number >= settings.INTEGRATIONS_WEBHOOK_MAX_ATTEMPTS:
            delivery.status, delivery.next_attempt_at, delivery.finished_at = DeliveryStatus.DEAD, None, now
        else:
            delivery.status = DeliveryStatus.RETRYING
            delivery.next_attempt_at = now + timedelta(seconds=backoff_seconds(number))
        state["last_error"] = error
        if endpoint.failing_since is None and not delivery.is_test:
            endpoint.failing_since = state["failing_since"] = now
    DeliveryAttempt.objects.bulk_create(attempts)
    # One UPDATE per distinct outcome (usually one: "succeeded at the first attempt with 200"); bulk_update's
    # CASE per row costs more to build than the statements it saves.
    groups: dict[tuple, list[int]] = {}
    for delivery, _ in results:
        key = (delivery.attempts, delivery.last_status_code, delivery.last_error, delivery.status,
               delivery.next_attempt_at, delivery.finished_at)  # fmt: skip
        groups.setdefault(key, []).append(delivery.pk)
    for (attempts, code, error, status, next_at, finished), ids in groups.items():
        Delivery.objects.filter(pk__in=ids).update(
            attempts=attempts, last_status_code=code, last_error=error, status=status, next_attempt_at=next_at,
            finished_at=finished,
        )  # fmt: skip
    for pk, changes in endpoint_state.items():
        WebhookEndpoint.objects.filter(pk=pk).update(**changes)


def deliveries_due(*, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Ids of deliveries whose next attempt is due (beat picks them up every few seconds)."""
    now = now or timezone.now()
    return list(
        Delivery.objects.filter(
            status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING], next_attempt_at__lte=now,
            endpoint__enabled=True,
        ).order_by("next_attempt_at").values_list("pk", flat=True)[:limit]
    )  # fmt: skip


def deliveries_run_due(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Attempt every due delivery in this process (what the worker does for each queued batch)."""
    now = now or timezone.now()
    ids, sent = deliveries_due(now=now, limit=limit), 0
    for start in range(0, len(ids), SEND_BATCH):
        sent += len(deliveries_send(ids[start : start + SEND_BATCH], now=now))
    return sent


# --- test send and replay ------------------------------------------------------------------------------------------


def endpoint_test(*, actor, org, endpoint: WebhookEndpoint) -> Delivery:
    """Send a `webhook.test` event to this endpoint now (even if it does not subscribe to it) and return the
    delivery with its one attempt; it is not retried."""
    require_manage(actor, org)
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            organization=org, event_id=new_event_id(), event_type="webhook.test",
            data={"message": "A test event from chatapp.", "endpoint": {"id": endpoint.pk, "name": endpoint.name}},
        )  # fmt: skip
        delivery = Delivery.objects.create(
            organization=org, endpoint=endpoint, event=event, is_test=True, next_attempt_at=timezone.now()
        )
        audit_record(org=org, event=events.ENDPOINT_TESTED, actor=actor, target=endpoint)
    delivery_attempt(delivery.pk, force=True)
    delivery.refresh_from_db()
    return delivery


@transaction.atomic
def deliveries_replay(*, actor, org, deliveries) -> list[Delivery]:
    """Send these deliveries' events again to their endpoints (org.manage): one new delivery each, linked to the
    original, same `webhook-id`. Returns the new deliveries (queued after commit)."""
    require_manage(actor, org)
    originals = list(deliveries.filter(organization=org).select_related("endpoint"))
    now = timezone.now()
    copies = Delivery.objects.bulk_create([
        Delivery(organization=org, endpoint_id=d.endpoint_id, event_id=d.event_id, replay_of=d, next_attempt_at=now,
                 created=now)
        for d in originals
    ])  # fmt: skip
    by_endpoint: dict = {}
    for original in originals:
        by_endpoint.setdefault(original.endpoint, []).append(original.pk)
    for endpoint, ids in by_endpoint.items():
        audit_record(org=org, event=events.REPLAYED, actor=actor, target=endpoint,
                     metadata={"deliveries": len(ids), "first": min(ids), "last": max(ids)})  # fmt: skip
    _queue([d.pk for d in copies])
    return copies


def replay_selection(*, org, endpoint: WebhookEndpoint, since: datetime, until: datetime, statuses=None):
    """The original deliveries of an endpoint created in [since, until), optionally of some statuses."""
    queryset = Delivery.objects.for_org(org).filter(
        endpoint=endpoint, created__gte=since, created__lt=until, replay_of__isnull=True, is_test=False
    )
    if statuses:
        queryset = queryset.filter(status__in=statuses)
    return queryset


# --- failing endpoints ---------------------------------------------------------------------------------------------


def endpoints_disable_failing(*, now: datetime | None = None) -> int:
    """Disable every endpoint failing for INTEGRATIONS_WEBHOOK_DISABLE_AFTER_DAYS days; email its owners."""
    now = now or timezone.now()
    days = settings.INTEGRATIONS_WEBHOOK_DISABLE_AFTER_DAYS
    disabled = 0
    for endpoint in WebhookEndpoint.objects.filter(enabled=True, failing_since__lte=now - timedelta(days=days)):
        with transaction.atomic():
            reason = f"Failing since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC ({endpoint.last_error})"[:200]
            if not WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
                enabled=False, disabled_reason=reason
            ):
                continue
            audit_record(org=endpoint.organization, event=events.ENDPOINT_DISABLED, actor=SYSTEM, target=endpoint,
                         metadata={"failing_since": endpoint.failing_since.isoformat()})  # fmt: skip
            transaction.on_commit(lambda e=endpoint, r=reason: _email_owners(e, r))
            disabled += 1
    return disabled


def _email_owners(endpoint: WebhookEndpoint, reason: str) -> None:
    recipients = list(
        Membership.objects.filter(
            organization_id=endpoint.organization_id, is_active=True,
            role__in=[Membership.Role.OWNER, Membership.Role.ADMIN],
        ).values_list("user__email", flat=True)
    )  # fmt: skip
    if recipients:
        send_mail(
            f"Outgoing webhook “{endpoint.name}” was disabled",
            f"The webhook “{endpoint.name}” ({endpoint.url.split('?', 1)[0]}) has failed for "
            f"{settings.INTEGRATIONS_WEBHOOK_DISABLE_AFTER_DAYS} days and was disabled.\n\n{reason}\n\n"
            "Fix the receiver, enable the endpoint again and replay the dead deliveries from its delivery log.",
            None,
            recipients,
        )


# --- health --------------------------------------------------------------------------------------------------------


def endpoints_health(*, org, endpoint_ids: list[int], now: datetime | None = None) -> dict[int, dict]:
    """{endpoint id: success rate over 24 h, deliveries, dead letters, lag} for many endpoints in one query."""
    now = now or timezone.now()
    day = now - timedelta(hours=24)
    open_statuses = [DeliveryStatus.PENDING, DeliveryStatus.RETRYING]
    rows = (
        Delivery.objects.for_org(org)
        .filter(endpoint_id__in=endpoint_ids)
        .values("endpoint_id")
        .annotate(
            recent=Count("pk", filter=Q(created__gte=day, is_test=False)),
            recent_ok=Count("pk", filter=Q(created__gte=day, is_test=False, status=DeliveryStatus.SUCCEEDED)),
            recent_tried=Count("pk", filter=Q(created__gte=day, is_test=False, attempts__gt=0)),
            dead=Count("pk", filter=Q(status=DeliveryStatus.DEAD, is_test=False)),
            pending=Count("pk", filter=Q(status__in=open_statuses)),
            oldest_pending=Min("created", filter=Q(status__in=open_statuses)),
        )
    )
    health = {
        pk: {"deliveries_24h": 0, "success_rate_24h": None, "dead_letters": 0, "pending": 0, "lag_seconds": 0}
        for pk in endpoint_ids
    }
    for row in rows:
        health[row["endpoint_id"]] = {
            "deliveries_24h": row["recent"],
            "success_rate_24h": round(row["recent_ok"] / row["recent_tried"], 4) if row["recent_tried"] else None,
            "dead_letters": row["dead"],
            "pending": row["pending"],
            "lag_seconds": int((now - row["oldest_pending"]).total_seconds()) if row["oldest_pending"] else 0,
        }
    return health


# --- the audit trail as the event source ---------------------------------------------------------------------------


def _start_cursor(org) -> None:
    """A new organization subscriber starts at the head of the trail: history is not sent."""
    from audit.models import AuditChain
    from plugins.integrations.models import EventCursor

    head = AuditChain.objects.filter(chain=org.pk).values_list("last_sequence", flat=True).first() or 0
    EventCursor.objects.get_or_create(organization=org, defaults={"last_sequence": head})
