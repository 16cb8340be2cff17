"""Stripe events built like Stripe's, signed by Stripe's own library (an implementation independent of ours)."""

import json
import secrets
from datetime import UTC, datetime

import pytest
import stripe
from django.contrib.auth.models import Permission

from accounts.models import User
from tests.factories import UserFactory

WEBHOOK_URL = "/api/v1/instance/analytics/revenue/stripe/webhook"


def ts(year, month, day, hour=12) -> int:
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp())


@pytest.fixture
def webhook_secret(settings):
    secret = "whsec_" + secrets.token_hex(16)  # made per test: no secret lives in the fixtures
    settings.STRIPE_WEBHOOK_SECRET = [secret]
    return secret


def price(price_id, amount, currency="usd", interval="month", interval_count=1, **extra):
    return {
        "id": price_id, "object": "price", "active": True, "currency": currency, "unit_amount": amount,
        "unit_amount_decimal": None, "nickname": price_id.replace("price_", "").title(), "type": "recurring",
        "recurring": {"interval": interval, "interval_count": interval_count, "usage_type": "licensed"}, **extra,
    }  # fmt: skip


def subscription(sub_id, customer, items, *, status="active", start, currency="usd", **extra):
    """A Stripe subscription object; items are (price dict, quantity)."""
    return {
        "id": sub_id, "object": "subscription", "customer": customer, "status": status, "currency": currency,
        "start_date": start, "created": start, "cancel_at_period_end": False, "canceled_at": None, "ended_at": None,
        "trial_end": None, "metadata": {}, "discount": None,
        "items": {"object": "list", "data": [
            {"id": f"si_{sub_id}_{n}", "object": "subscription_item", "price": p, "quantity": q}
            for n, (p, q) in enumerate(items)
        ]},
        **extra,
    }  # fmt: skip


def event(event_id, event_type, created, obj):
    return {
        "id": event_id, "object": "event", "api_version": "2024-06-20", "created": created, "livemode": False,
        "type": event_type, "data": {"object": obj}, "pending_webhooks": 1, "request": {"id": None},
    }  # fmt: skip


@pytest.fixture
def deliver(db, anon, webhook_secret):
    """POST an event as Stripe does: the JSON body and a Stripe-Signature made by the `stripe` library."""

    def send(payload, *, secret=None, timestamp=None, body=None):
        text = body if body is not None else json.dumps(payload)
        header = stripe.WebhookSignature.generate_signature_header(text, secret or webhook_secret, timestamp=timestamp)
        return anon.post(WEBHOOK_URL, data=text, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)

    return send


def _with_perm(codename, **fields):
    user = UserFactory(**fields)
    user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label="revenue"))
    return User.objects.get(pk=user.pk)  # a fresh object: Django caches permissions per instance


@pytest.fixture
def reader(db):
    return _with_perm("read", is_staff=True, email="finance@operator.test")


@pytest.fixture
def manager(db):
    return _with_perm("manage", is_staff=True, email="revops@operator.test")


@pytest.fixture
def superuser(db):
    return UserFactory(is_staff=True, is_superuser=True, email="root@operator.test")
