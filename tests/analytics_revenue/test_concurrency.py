"""The same Stripe event delivered by several workers at once is stored and applied once (PostgreSQL row locks)."""

import threading

import pytest
from django.db import connection

from analytics.revenue.models import Subscription, SubscriptionRevision, WebhookEvent
from analytics.revenue.services.stripe import stripe_event_receive
from tests.analytics_revenue.conftest import event, price, subscription, ts


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locks between threads need PostgreSQL")
def test_concurrent_deliveries_of_one_event_apply_it_once(webhook_secret, allow_audit_flush):
    import json

    import stripe

    obj = subscription("sub_c", "cus_c", [(price("price_c", 900), 3)], start=ts(2026, 1, 5))
    body = json.dumps(event("evt_c", "customer.subscription.created", ts(2026, 1, 5), obj))
    header = stripe.WebhookSignature.generate_signature_header(body, webhook_secret)
    results, errors = [], []
    barrier = threading.Barrier(4)

    def receive():
        try:
            barrier.wait()
            results.append(stripe_event_receive(body=body.encode(), signature_header=header)[1])
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=receive) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [False, True, True, True]  # one first delivery, three duplicates
    assert WebhookEvent.objects.get().deliveries == 4
    assert (Subscription.objects.get().mrr, SubscriptionRevision.objects.count()) == (2700, 1)
