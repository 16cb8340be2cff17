"""Streaming destinations: create, change, delete and test them, and deliver an organization's events to them.

Delivery is at-least-once with a cursor per chain: a batch is sent, and only when the receiver accepted it (a
2xx for webhooks, a cleanly closed TCP stream for syslog) does the cursor move past it. A receiver that is down
gets the same events again once it is back, in order, none skipped; it de-duplicates on `event_id`
("{chain}:{sequence}"), which also covers the rare resend after a timeout on an accepted batch. Failures back
off exponentially (1 min, 2, 4, ... capped at 1 h). One sender at a time holds a destination (a lease).
"""

import logging
import secrets as secrets_module
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audit import audit_events as events
from audit.export import EXPORT_FIELDS
from audit.models import AuditChain, AuditEvent, Outcome, StreamDestination, StreamKind
from audit.registry import Category
from audit.services import Actor, audit_record, diff
from audit.streaming import formats, transport

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
DEFAULT_LIMIT = 20_000  # events examined per run; a backlog drains over the following minutes
RUN_BUDGET_SECONDS = 40.0  # stop starting batches after this long, so runs stay inside the beat minute
LEASE = timedelta(minutes=5)
BACKOFF_BASE_SECONDS = 60
BACKOFF_MAX_SECONDS = 3600
MIN_SECRET_LENGTH = 24
DEFAULT_SYSLOG_PORTS = {True: 6514, False: 601}  # RFC 5425 (TLS) and RFC 3195/6587 registrations
STREAM_ACTOR = Actor.system("audit streaming")

AUDITED_FIELDS = ("name", "kind", "enabled", "categories", "url", "host", "port", "use_tls")


def chains_of(org_id: int) -> tuple[tuple[int, str], ...]:
    """(chain id, cursor field) of both chains of an organization: its events, and its API calls."""
    from audit.api_requests import api_chain_id

    return ((org_id, "cursor"), (api_chain_id(org_id), "api_cursor"))


# --- reading ------------------------------------------------------------------------------------------------------


def chain_heads(*, org) -> dict[int, int]:
    """{chain id: last sequence} of the organization's chains (one query), for lag."""
    ids = [chain for chain, _ in chains_of(org.pk)]
    return dict(AuditChain.objects.filter(chain__in=ids).values_list("chain", "last_sequence"))


def destination_lag(destination: StreamDestination, heads: dict[int, int]) -> int:
    """Events of the organization not yet handled by this destination (before the category filter)."""
    return sum(
        max(0, heads.get(chain, 0) - getattr(destination, field))
        for chain, field in chains_of(destination.organization_id)
    )


def url_for_display(url: str) -> str:
    """The URL without its query string, which may carry a token (some SIEM endpoints take one there)."""
    if not url:
        return ""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "[redacted]" if parts.query else "", ""))


def _audited(destination: StreamDestination) -> dict:
    values = {name: getattr(destination, name) for name in AUDITED_FIELDS}
    values["url"] = url_for_display(destination.url)
    return values


# --- writing ------------------------------------------------------------------------------------------------------


def _validate(destination: StreamDestination) -> None:
    errors: dict[str, list[str]] = {}
    if not destination.name.strip():
        errors["name"] = ["Required."]
    unknown = sorted(set(destination.categories) - set(Category.values))
    if unknown:
        errors["categories"] = [f"Unknown categories: {', '.join(map(str, unknown))}."]
    if destination.kind == StreamKind.WEBHOOK:
        problem = transport.check_url(destination.url) if destination.url else "Required for a webhook."
        if problem:
            errors["url"] = [problem]
        if len(destination.signing_secret or "") < MIN_SECRET_LENGTH:
            errors["signing_secret"] = [f"Required for a webhook: at least {MIN_SECRET_LENGTH} characters."]
    elif destination.kind == StreamKind.SYSLOG:
        if not destination.host:
            errors["host"] = ["Required for syslog."]
        elif transport.literal_address_refused(destination.host):
            errors["host"] = ["The host is a non-public address."]
        if destination.port is not None and not 1 <= destination.port <= 65535:
            errors["port"] = ["A TCP port, 1 to 65535."]
    else:
        errors["kind"] = [f"Use one of: {', '.join(StreamKind.values)}."]
    if errors:
        raise ValidationError(errors)


def _require_manage(actor, org) -> None:
    from accounts.permissions import ORG_MANAGE
    from rbac.services import require_perm

    require_perm(user=actor, org=org, perm=ORG_MANAGE)


def _apply(destination: StreamDestination, values: dict) -> bool:
    """Set the given fields; returns whether the secret changed (it is encrypted when the destination is saved)."""
    secret_changed = False
    for name, value in values.items():
        if name == "signing_secret":
            secret_changed = value != destination.signing_secret
            destination.signing_secret = value
        elif name == "categories":
            destination.categories = sorted(set(value))
        elif name in AUDITED_FIELDS:
            setattr(destination, name, value)
        else:
            raise TypeError(f"unknown destination field {name!r}")
    if destination.kind == StreamKind.SYSLOG and destination.port is None:
        destination.port = DEFAULT_SYSLOG_PORTS[destination.use_tls]
    return secret_changed


@transaction.atomic
def stream_destination_create(*, actor, org, **values) -> StreamDestination:
    """Add a destination (org.manage). It streams the events recorded from now on, its own creation included;
    earlier history is what the export is for."""
    _require_manage(actor, org)
    destination = StreamDestination(organization=org)
    values.setdefault("use_tls", True)
    _apply(destination, values)
    _validate(destination)
    if StreamDestination.objects.filter(organization=org, name=destination.name).exists():
        raise ValidationError({"name": ["A destination with this name exists."]})
    heads = chain_heads(org=org)
    for chain, field in chains_of(org.pk):
        setattr(destination, field, heads.get(chain, 0))
    destination.save()
    audit_record(
        org=org, event=events.STREAM_CREATED, actor=actor, target=destination,
        changes=diff({}, _audited(destination)),
    )  # fmt: skip
    return destination


@transaction.atomic
def stream_destination_update(*, actor, org, destination: StreamDestination, **values) -> StreamDestination:
    """Change a destination (org.manage). Its cursor and delivery state are left alone; re-enabling or fixing a
    destination clears its backoff so it is tried at the next run."""
    _require_manage(actor, org)
    destination = StreamDestination.objects.select_for_update().get(pk=destination.pk, organization=org)
    before = _audited(destination)
    secret_changed = _apply(destination, values)
    _validate(destination)
    if StreamDestination.objects.filter(organization=org, name=destination.name).exclude(pk=destination.pk).exists():
        raise ValidationError({"name": ["A destination with this name exists."]})
    after = _audited(destination)
    destination.next_attempt_at = None
    destination.save(update_fields=[*AUDITED_FIELDS, "signing_secret", "next_attempt_at", "updated"])
    audit_record(
        org=org, event=events.STREAM_UPDATED, actor=actor, target=destination, changes=diff(before, after),
        metadata={"secret_changed": True} if secret_changed else None,
    )  # fmt: skip
    return destination


@transaction.atomic
def stream_destination_delete(*, actor, org, destination: StreamDestination) -> None:
    _require_manage(actor, org)
    destination = StreamDestination.objects.select_for_update().get(pk=destination.pk, organization=org)
    audit_record(
        org=org, event=events.STREAM_DELETED, actor=actor, target=destination,
        changes=diff(_audited(destination), {}),
    )  # fmt: skip
    destination.delete()


def generate_secret() -> str:
    return secrets_module.token_hex(32)


# --- delivery -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryResult:
    attempted: bool  # False: disabled, backing off, or another sender holds it
    delivered: int = 0
    ok: bool = True
    error: str = ""


def _send(destination: StreamDestination, payloads: list[dict], now: datetime) -> None:
    """Send one batch; raises transport.DeliveryError unless the receiver accepted it."""
    if destination.kind == StreamKind.WEBHOOK:
        body = formats.webhook_body(destination.organization.slug, payloads)
        timestamp = str(int(now.timestamp()))
        headers = {
            "Content-Type": "application/json",
            formats.TIMESTAMP_HEADER: timestamp,
            formats.SIGNATURE_HEADER: formats.signature(destination.signing_secret, timestamp, body),
        }
        status = transport.post(destination.url, body, headers)
        if not 200 <= status < 300:
            raise transport.DeliveryError(f"webhook answered HTTP {status}")
    else:
        data = b"".join(formats.octet_frame(formats.syslog_message(payload)) for payload in payloads)
        transport.syslog_send(destination.host, destination.port, destination.use_tls, data)


def _claim(destination: StreamDestination, now: datetime) -> bool:
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now)
    return bool(
        StreamDestination.objects.filter(due, free, pk=destination.pk, enabled=True).update(
            lease_expires_at=now + LEASE
        )
    )


def destination_deliver(destination: StreamDestination, *, limit: int = DEFAULT_LIMIT, now=None) -> DeliveryResult:
    """Send the organization's events after the destination's cursors, oldest first, in batches.

    Does nothing when the destination is disabled, backing off (`next_attempt_at` in the future) or held by
    another run. Call it outside any transaction in production: it talks to the network between its writes.
    """
    now = now or timezone.now()
    if not _claim(destination, now):
        return DeliveryResult(attempted=False)
    destination.refresh_from_db()
    started, delivered, examined = time.monotonic(), 0, 0
    try:
        for chain, field in chains_of(destination.organization_id):
            while examined < limit and time.monotonic() - started < RUN_BUDGET_SECONDS:
                cursor = getattr(destination, field)
                rows = list(
                    AuditEvent.objects.filter(
                        organization_id=destination.organization_id, chain=chain, sequence__gt=cursor
                    )
                    .order_by("sequence")
                    .values(*EXPORT_FIELDS)[: min(BATCH_SIZE, limit - examined)]
                )
                if not rows:
                    break
                wanted = [formats.event_payload(row) for row in rows
                          if not destination.categories or row["category"] in destination.categories]  # fmt: skip
                if wanted:
                    _send(destination, wanted, now)
                last = rows[-1]["sequence"]
                StreamDestination.objects.filter(pk=destination.pk).update(
                    **{field: last}, delivered_count=F("delivered_count") + len(wanted)
                )
                setattr(destination, field, last)
                examined += len(rows)
                delivered += len(wanted)
    except transport.DeliveryError as exc:
        _failed(destination, str(exc), now)
        return DeliveryResult(attempted=True, delivered=delivered, ok=False, error=str(exc))
    finally:
        StreamDestination.objects.filter(pk=destination.pk).update(lease_expires_at=None)
    _succeeded(destination, now)
    return DeliveryResult(attempted=True, delivered=delivered)


def backoff(failures: int) -> timedelta:
    """1 min after the first failure, then 2, 4, 8, ... capped at 1 h."""
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** min(failures - 1, 12), BACKOFF_MAX_SECONDS))


def _failed(destination: StreamDestination, error: str, now: datetime) -> None:
    failures = destination.consecutive_failures + 1
    logger.warning("audit stream %s (org %s) failed: %s", destination.pk, destination.organization_id, error)
    with transaction.atomic():
        StreamDestination.objects.filter(pk=destination.pk).update(
            consecutive_failures=failures, next_attempt_at=now + backoff(failures), last_error=error[:300],
            last_attempt_at=now,
        )  # fmt: skip
        if failures == 1:  # record the transition, not every retry
            audit_record(
                org=destination.organization, event=events.STREAM_FAILING, actor=STREAM_ACTOR, target=destination,
                outcome=Outcome.FAILURE, metadata={"error": error[:300]},
            )  # fmt: skip
    destination.consecutive_failures = failures


def _succeeded(destination: StreamDestination, now: datetime) -> None:
    with transaction.atomic():
        StreamDestination.objects.filter(pk=destination.pk).update(
            consecutive_failures=0, next_attempt_at=None, last_error="", last_success_at=now, last_attempt_at=now
        )
        if destination.consecutive_failures:
            audit_record(
                org=destination.organization, event=events.STREAM_RECOVERED, actor=STREAM_ACTOR, target=destination,
                metadata={"failed_attempts": destination.consecutive_failures},
            )  # fmt: skip
    destination.consecutive_failures = 0


def destination_send_test(*, actor, org, destination: StreamDestination) -> DeliveryResult:
    """Send one synthetic event (event_id "test:<random>") now, ignoring backoff; cursors are not touched.

    Needs org.manage: it makes the server connect somewhere. The attempt and its outcome are recorded.
    """
    _require_manage(actor, org)
    now = timezone.now()
    payload = dict.fromkeys(EXPORT_FIELDS)
    payload.update(
        event_id=f"test:{secrets_module.token_hex(8)}", chain=org.pk, sequence=0, occurred_at=now.isoformat(),
        event_name="audit.stream.test", category=Category.SYSTEM_EVENT, outcome=Outcome.SUCCESS, changes={},
        metadata={"test": True},
    )  # fmt: skip
    try:
        _send(destination, [payload], now)
        result = DeliveryResult(attempted=True, delivered=1)
    except transport.DeliveryError as exc:
        result = DeliveryResult(attempted=True, ok=False, error=str(exc))
    with transaction.atomic():
        audit_record(
            org=org, event=events.STREAM_TESTED, actor=actor, target=destination,
            outcome=Outcome.SUCCESS if result.ok else Outcome.FAILURE, metadata={"error": result.error},
        )  # fmt: skip
    return result


def destinations_due(*, now=None):
    """Enabled destinations that are not backing off (for the beat task)."""
    now = now or timezone.now()
    return StreamDestination.objects.filter(enabled=True).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
