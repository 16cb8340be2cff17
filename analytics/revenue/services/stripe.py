"""Stripe webhooks: signature verification over the raw body, then each event applied once, in object time.

Verification follows Stripe's scheme: the `Stripe-Signature` header is `t=<unix time>,v1=<hex>[,v1=<hex>...]`,
and v1 is HMAC-SHA256, keyed with the endpoint's signing secret, of `"<t>." + <raw body>`. Any configured
secret may match (rotation: Stripe signs with both the old and the new secret for a while), the comparison is in
constant time, and `t` must lie within the tolerance of our clock (a replayed old request is refused). The
secrets are never logged, stored or echoed.

Events are de-duplicated by id (`WebhookEvent.event_id`). Ordering uses the event's own `created` time: a late
event adds its state to the subscription's history at the time it happened, and updates the current state only
if nothing newer has been applied (services/subscriptions.py).
"""

import hashlib
import hmac
import time
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import orjson
import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Organization
from analytics.revenue import money
from analytics.revenue.models import Customer, Invoice, Payment, Plan, Source, Subscription, WebhookEvent
from analytics.revenue.services.subscriptions import ItemState, SubscriptionState, subscription_apply

logger = structlog.get_logger(__name__)


class SignatureError(Exception):
    """The request is not a genuine, recent Stripe delivery: refused, nothing stored."""


class NotConfigured(Exception):
    """No signing secret is configured, so no delivery can be verified."""


class PayloadError(Exception):
    """Signed, but not a Stripe event we can read."""


class EventError(Exception):
    """The event is well formed but cannot be applied (e.g. an unsupported price model)."""


def verify_signature(*, body: bytes, header: str, secrets: list[str], tolerance: int, now: float | None = None) -> int:
    """Check a `Stripe-Signature` header against the raw body; returns the signed timestamp or raises."""
    secrets = [secret for secret in secrets if secret]
    if not secrets:
        raise NotConfigured("STRIPE_WEBHOOK_SECRET is not set")
    timestamps, signatures = [], []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamps.append(value)
        elif key == "v1" and value:
            signatures.append(value)
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        raise SignatureError("The Stripe-Signature header has no valid timestamp.")
    if not signatures:
        raise SignatureError("The Stripe-Signature header has no v1 signature.")
    timestamp = int(timestamps[0])
    signed = timestamps[0].encode() + b"." + body
    expected = [hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest() for secret in secrets]
    # Every pair is compared (no early exit), so timing says nothing about which secret or signature matched.
    matches = [hmac.compare_digest(want, got) for want in expected for got in signatures]
    if not any(matches):
        raise SignatureError("No signature matches the payload for any configured secret.")
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"The signed timestamp is more than {tolerance} s away from the server's clock.")
    return timestamp


# --- reading Stripe objects -------------------------------------------------------------------------------


def _time(value) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise PayloadError(f"{value!r} is not a Unix timestamp.")
    return datetime.fromtimestamp(value, tz=UTC)


def _id(value) -> str | None:
    """A reference that may be an id or an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _int(value, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise PayloadError(f"{name} is not an integer amount.")
    return value


def _org_of(metadata) -> int | None:
    slug = (metadata or {}).get("org") if isinstance(metadata, dict) else None
    if not slug:
        return None
    return Organization.objects.filter(slug=slug).values_list("pk", flat=True).first()


def _customer(ref: str | None, observed_at: datetime) -> Customer:
    if not ref:
        raise PayloadError("The object has no customer.")
    customer = Customer.objects.filter(external_id=ref).first()
    if customer is None:  # first sight (a concurrent event may create it too: the unique id decides)
        Customer.objects.bulk_create([Customer(external_id=ref, source=Source.STRIPE)], ignore_conflicts=True)
        customer = Customer.objects.get(external_id=ref)
    return customer


def _plan_from_price(price: dict, observed_at: datetime) -> Plan:
    """Upsert the plan a subscription item refers to (a Price, or a legacy Plan object) from its embedded copy."""
    if not isinstance(price, dict) or not _id(price):
        raise PayloadError("A subscription item has no price.")
    recurring = price.get("recurring") or {}
    interval = recurring.get("interval") or price.get("interval") or "month"
    count = recurring.get("interval_count") or price.get("interval_count") or 1
    amount = price.get("unit_amount", price.get("amount"))
    if amount is None and price.get("unit_amount_decimal") is None:
        raise EventError(f"Price {price['id']} has no unit amount (tiered prices are not supported).")
    try:
        fields = {
            "name": price.get("nickname") or "",
            "currency": money.normalize_currency(price.get("currency", "")),
            "unit_amount": amount if amount is not None else money.round_minor(Decimal(price["unit_amount_decimal"])),
            "interval": interval,
            "interval_count": count,
            "is_active": bool(price.get("active", True)),
            "source": Source.STRIPE,
        }
    except (money.MoneyError, InvalidOperation) as exc:
        raise PayloadError(f"Price {price['id']}: {exc}") from None
    if interval not in {"day", "week", "month", "year"} or not isinstance(count, int) or count < 1:
        raise PayloadError(f"Price {price['id']} has no valid recurring interval.")
    plan = Plan.objects.select_for_update().filter(external_id=price["id"]).first()
    if plan is None:
        try:
            with transaction.atomic():
                return Plan.objects.create(external_id=price["id"], source_updated_at=observed_at, **fields)
        except IntegrityError:
            plan = Plan.objects.select_for_update().get(external_id=price["id"])
    if plan.source_updated_at is None or observed_at >= plan.source_updated_at:
        # Keep a name the operator typed in the admin when Stripe has none.
        fields["name"] = fields["name"] or plan.name
        changed = {name: value for name, value in fields.items() if getattr(plan, name) != value}
        if changed:  # every subscription event embeds its prices: most carry nothing new
            for name, value in {**changed, "source_updated_at": observed_at}.items():
                setattr(plan, name, value)
            plan.save(update_fields=[*changed, "source_updated_at"])
    return plan


def _items(obj: dict, observed_at: datetime) -> list[ItemState]:
    data = (obj.get("items") or {}).get("data")
    if not isinstance(data, list):
        raise PayloadError("The subscription has no items list.")
    items = []
    for raw in data:
        price = raw.get("price") or raw.get("plan")
        plan = _plan_from_price(price, observed_at)
        recurring = price.get("recurring") or {}
        metered = (recurring.get("usage_type") or price.get("usage_type")) == "metered"
        if price.get("unit_amount_decimal") is not None:
            unit = Decimal(str(price["unit_amount_decimal"]))
        else:
            unit = Decimal(plan.unit_amount)
        quantity = raw.get("quantity", 1)
        if quantity is None:
            quantity = 0 if metered else 1
        items.append(
            ItemState(
                external_id=_id(raw) or plan.external_id, plan=plan, quantity=_int(quantity, "quantity"),
                unit_amount=unit, metered=metered,
            )
        )  # fmt: skip
    return items


def _discount(obj: dict, currency: str) -> tuple[Decimal | None, int | None]:
    """A recurring coupon on the subscription (`once` coupons touch one invoice, not the recurring revenue)."""
    discount = obj.get("discount")
    coupon = discount.get("coupon") if isinstance(discount, dict) else None
    if not isinstance(coupon, dict) or coupon.get("duration") == "once":
        return None, None
    if coupon.get("percent_off") is not None:
        return Decimal(str(coupon["percent_off"])), None
    if coupon.get("amount_off") is not None and (coupon.get("currency") or "").upper() == currency:
        return None, _int(coupon["amount_off"], "amount_off")
    return None, None


def _subscription_state(obj: dict, observed_at: datetime) -> SubscriptionState:
    if not _id(obj):
        raise PayloadError("The subscription has no id.")
    try:
        currency = money.normalize_currency(obj.get("currency") or "")
    except money.MoneyError as exc:
        raise PayloadError(str(exc)) from None
    customer = _customer(_id(obj.get("customer")), observed_at)
    percent_off, amount_off = _discount(obj, currency)
    started = _time(obj.get("start_date")) or _time(obj.get("created")) or observed_at
    return SubscriptionState(
        external_id=obj["id"],
        customer=customer,
        organization_id=_org_of(obj.get("metadata")),
        status=obj.get("status") or "active",
        currency=currency,
        started_at=started,
        items=_items(obj, observed_at),
        percent_off=percent_off,
        amount_off=amount_off,
        trial_end=_time(obj.get("trial_end")),
        cancel_at_period_end=bool(obj.get("cancel_at_period_end")),
        canceled_at=_time(obj.get("canceled_at")),
        ended_at=_time(obj.get("ended_at")),
    )


# --- applying events --------------------------------------------------------------------------------------


def _apply_subscription(event: WebhookEvent, obj: dict) -> None:
    observed = event.created_at
    state = _subscription_state(obj, observed)
    if state.status not in dict(Subscription._meta.get_field("status").choices):
        raise EventError(f"Unknown subscription status {state.status!r}.")
    # When the state took effect: a subscription's start for its creation, its end for its end, else the event.
    if event.type == "customer.subscription.deleted" or (state.status == "canceled" and state.ended_at):
        effective = state.ended_at or state.canceled_at or observed
    elif event.type == "customer.subscription.created":
        effective = state.started_at
    else:
        effective = observed
    subscription_apply(
        state=state, effective_at=effective, observed_at=observed, source=Source.STRIPE, source_ref=event.event_id
    )


def _apply_customer(event: WebhookEvent, obj: dict) -> None:
    ref = _id(obj)
    if not ref:
        raise PayloadError("The customer has no id.")
    customer, _ = Customer.objects.select_for_update().get_or_create(
        external_id=ref, defaults={"source": Source.STRIPE}
    )
    if customer.source_updated_at is None or event.created_at >= customer.source_updated_at:
        customer.name = (obj.get("name") or obj.get("description") or "")[:200]
        customer.organization_id = _org_of(obj.get("metadata")) or customer.organization_id
        customer.source_updated_at = event.created_at
        customer.save()


def _newer(model, ref: str, observed: datetime):
    """(row locked or None, whether `observed` may overwrite it)."""
    row = model.objects.select_for_update().filter(external_id=ref).first()
    return row, row is None or observed >= row.source_updated_at


def _apply_invoice(event: WebhookEvent, obj: dict) -> None:
    ref = _id(obj)
    if not ref:
        raise PayloadError("The invoice has no id.")
    _row, newer = _newer(Invoice, ref, event.created_at)
    if not newer:
        return
    # Since API version 2025-03-31 the subscription of an invoice sits under parent.subscription_details.
    parent = obj.get("parent") if isinstance(obj.get("parent"), dict) else {}
    parent = parent.get("subscription_details") or {}
    sub_ref = _id(obj.get("subscription")) or _id(parent.get("subscription"))
    fields = {
        "customer": _customer(_id(obj.get("customer")), event.created_at),
        "subscription": Subscription.objects.filter(external_id=sub_ref).first() if sub_ref else None,
        "number": obj.get("number") or "",
        "status": obj.get("status") or "",
        "currency": money.normalize_currency(obj.get("currency") or ""),
        "total": _int(obj.get("total", 0), "total"),
        "amount_paid": _int(obj.get("amount_paid", 0), "amount_paid"),
        "amount_due": _int(obj.get("amount_due", 0), "amount_due"),
        "period_start": _time(obj.get("period_start")),
        "period_end": _time(obj.get("period_end")),
        "created_at": _time(obj.get("created")) or event.created_at,
        "source_updated_at": event.created_at,
    }
    Invoice.objects.update_or_create(external_id=ref, defaults=fields)


def _apply_charge(event: WebhookEvent, obj: dict) -> None:
    ref = _id(obj)
    if not ref or not ref.startswith(("ch_", "py_")):
        raise PayloadError("The charge has no id.")
    _row, newer = _newer(Payment, ref, event.created_at)
    if not newer:
        return
    invoice_ref = _id(obj.get("invoice"))
    fields = {
        "customer": _customer(_id(obj.get("customer")), event.created_at) if obj.get("customer") else None,
        "invoice": Invoice.objects.filter(external_id=invoice_ref).first() if invoice_ref else None,
        "status": obj.get("status") or "",
        "currency": money.normalize_currency(obj.get("currency") or ""),
        "amount": _int(obj.get("amount", 0), "amount"),
        "amount_refunded": _int(obj.get("amount_refunded", 0), "amount_refunded"),
        "created_at": _time(obj.get("created")) or event.created_at,
        "source_updated_at": event.created_at,
    }
    Payment.objects.update_or_create(external_id=ref, defaults=fields)


def _apply_price(event: WebhookEvent, obj: dict) -> None:
    if obj.get("type") == "one_time" or (obj.get("object") == "price" and not obj.get("recurring")):
        return  # one-off prices are not recurring revenue
    _plan_from_price(obj, event.created_at)


HANDLERS = {
    "customer.subscription.created": _apply_subscription,
    "customer.subscription.updated": _apply_subscription,
    "customer.subscription.deleted": _apply_subscription,
    "customer.subscription.paused": _apply_subscription,
    "customer.subscription.resumed": _apply_subscription,
    "customer.created": _apply_customer,
    "customer.updated": _apply_customer,
    "invoice.created": _apply_invoice,
    "invoice.updated": _apply_invoice,
    "invoice.finalized": _apply_invoice,
    "invoice.paid": _apply_invoice,
    "invoice.payment_succeeded": _apply_invoice,
    "invoice.payment_failed": _apply_invoice,
    "invoice.voided": _apply_invoice,
    "invoice.marked_uncollectible": _apply_invoice,
    "charge.succeeded": _apply_charge,
    "charge.failed": _apply_charge,
    "charge.refunded": _apply_charge,
    "charge.updated": _apply_charge,
    "price.created": _apply_price,
    "price.updated": _apply_price,
    "plan.created": _apply_price,
    "plan.updated": _apply_price,
}


def _process(event: WebhookEvent) -> None:
    """Apply the event in a savepoint and record the outcome on it; a failure rolls back only the event's changes."""
    handler = HANDLERS.get(event.type)
    if handler is None:
        event.status, event.error = WebhookEvent.Status.IGNORED, ""
    else:
        obj = (event.payload.get("data") or {}).get("object")
        try:
            with transaction.atomic():
                if not isinstance(obj, dict):
                    raise PayloadError("The event has no data.object.")
                handler(event, obj)
            event.status, event.error = WebhookEvent.Status.PROCESSED, ""
        except (PayloadError, EventError, money.MoneyError) as exc:
            event.status, event.error = WebhookEvent.Status.FAILED, str(exc)
        except Exception as exc:  # a bug must not lose the event: it stays FAILED and can be reprocessed
            logger.exception("revenue.stripe_event_failed", event_id=event.event_id, event_type=event.type)
            event.status, event.error = WebhookEvent.Status.FAILED, f"{type(exc).__name__}: {exc}"[:2000]
    event.processed_at = timezone.now()
    event.save(update_fields=["status", "error", "processed_at"])


def _parse(body: bytes) -> dict:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise PayloadError("The body is not JSON.") from None
    if not isinstance(payload, dict) or payload.get("object") != "event":
        raise PayloadError("The body is not a Stripe event.")
    if not isinstance(payload.get("id"), str) or not payload["id"] or not isinstance(payload.get("type"), str):
        raise PayloadError("The event has no id or type.")
    if not isinstance(payload.get("created"), int) or not isinstance((payload.get("data") or {}).get("object"), dict):
        raise PayloadError("The event has no created time or data.object.")
    return payload


def stripe_event_receive(*, body: bytes, signature_header: str) -> tuple[WebhookEvent, bool]:
    """Verify, store once and apply one Stripe delivery. Returns (event, duplicate).

    Raises NotConfigured, SignatureError or PayloadError before anything is written. A duplicate of a
    processed or ignored event only counts the delivery; a duplicate of a failed one is tried again.
    """
    verify_signature(
        body=body, header=signature_header, secrets=settings.STRIPE_WEBHOOK_SECRET,
        tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
    )  # fmt: skip
    payload = _parse(body)
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().filter(event_id=payload["id"]).first()
        if event is None:
            try:
                with transaction.atomic():
                    event = WebhookEvent.objects.create(
                        event_id=payload["id"], type=payload["type"][:100], created_at=_time(payload["created"]),
                        livemode=bool(payload.get("livemode")), payload=payload, status=WebhookEvent.Status.FAILED,
                        error="not processed yet",
                    )  # fmt: skip
            except IntegrityError:  # a concurrent delivery of the same event stored it first
                event = WebhookEvent.objects.select_for_update().get(event_id=payload["id"])
            else:
                _process(event)
                return event, False
        WebhookEvent.objects.filter(pk=event.pk).update(deliveries=F("deliveries") + 1)
        if event.status == WebhookEvent.Status.FAILED:
            _process(event)
        return event, True


def webhook_event_reprocess(*, actor, event: WebhookEvent) -> WebhookEvent:
    """Apply a stored event again (after a fix, or once a missing price model is supported). Audited."""
    from analytics.revenue.access import require_manage
    from analytics.revenue.audit_events import WEBHOOK_REPROCESSED
    from audit.services import audit_record

    require_manage(actor)
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event.pk)
        before = event.status
        _process(event)
        audit_record(
            org=None, event=WEBHOOK_REPROCESSED, actor=actor, target=event,
            changes={"status": [before, event.status]},
        )  # fmt: skip
    return event
