"""Revenue admin screens: readers see them read-only, managers edit through audited services, others see nothing."""

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from analytics.revenue.models import CsvImport, ExchangeRate, Subscription, WebhookEvent
from audit.models import AuditEvent
from tests.analytics_revenue.conftest import event, price, subscription, ts
from tests.factories import UserFactory

MODELS = ["plan", "customer", "subscription", "invoice", "payment", "exchangerate", "webhookevent", "csvimport"]


def _admin(user):
    client = Client()
    client.force_login(user, backend="accounts.backends.EmailBackend")
    return client


@pytest.fixture
def data(deliver):
    obj = subscription("sub_1", "cus_1", [(price("price_basic", 10000), 2)], start=ts(2026, 1, 10))
    deliver(event("evt_1", "customer.subscription.created", ts(2026, 1, 10), obj))
    return Subscription.objects.get()


@pytest.mark.parametrize("model", MODELS)
def test_reader_sees_every_screen(reader, data, model):
    client = _admin(reader)
    response = client.get(f"/admin/revenue/{model}/")
    assert response.status_code == 200, model


def test_subscription_page_shows_its_history(reader, data):
    page = _admin(reader).get(f"/admin/revenue/subscription/{data.pk}/change/").content.decode()
    assert "MRR history" in page and "evt_1" in page
    assert 'name="_save"' not in page  # read-only


def test_staff_without_the_permission_sees_nothing(db, data):
    client = _admin(UserFactory(is_staff=True))
    assert client.get("/admin/revenue/subscription/").status_code == 403
    assert "revenue" not in client.get("/admin/").content.decode().lower().split("<title>")[0]


def test_reader_cannot_add_rates_but_a_manager_can_with_an_audit_event(reader, manager, db):
    form = {"currency": "EUR", "reporting_currency": "USD", "valid_from": "2026-01-01", "rate": "1.08", "note": "ECB"}
    assert _admin(reader).post("/admin/revenue/exchangerate/add/", form).status_code == 403
    response = _admin(manager).post("/admin/revenue/exchangerate/add/", form)
    assert response.status_code == 302, response.content[:2000]
    rate = ExchangeRate.objects.get()
    assert (rate.currency, str(rate.rate), rate.valid_from) == ("EUR", "1.0800000000", date(2026, 1, 1))
    audit = AuditEvent.objects.get(event_name="revenue.rate_saved")
    assert audit.actor_id == str(manager.pk) and audit.changes["rate"] == [None, "1.08"]
    response = _admin(manager).post(f"/admin/revenue/exchangerate/{rate.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not ExchangeRate.objects.exists()
    assert AuditEvent.objects.filter(event_name="revenue.rate_deleted").count() == 1


def test_manager_links_a_customer_to_an_organization(manager, data, acme):
    customer = data.customer
    response = _admin(manager).post(
        f"/admin/revenue/customer/{customer.pk}/change/", {"name": "Acme Corp", "organization": acme.org.pk}
    )
    assert response.status_code == 302
    data.refresh_from_db()
    assert data.organization == acme.org
    assert AuditEvent.objects.filter(event_name="revenue.customer_linked", target_id=str(customer.pk)).exists()


def test_reprocess_action_is_for_managers(reader, manager, data):
    stored = WebhookEvent.objects.get()
    form = {"action": "reprocess", "_selected_action": [stored.pk]}
    _admin(reader).post("/admin/revenue/webhookevent/", form)
    assert not AuditEvent.objects.filter(event_name="revenue.webhook_reprocessed").exists()
    _admin(manager).post("/admin/revenue/webhookevent/", form)
    assert AuditEvent.objects.filter(event_name="revenue.webhook_reprocessed").count() == 1


def test_csv_upload_page_dry_run_then_import(manager, acme):
    text = b"subscription,org,plan,seats,price,currency,interval,start\ns1,acme,team,3,10,USD,month,2026-01-01\n"
    client = _admin(manager)
    assert "Import a CSV file" in client.get("/admin/revenue/csvimport/").content.decode()
    page = client.post("/admin/revenue/csvimport/upload/",
                       {"file": SimpleUploadedFile("s.csv", text), "dry_run": "on"}).content.decode()  # fmt: skip
    assert "The file is valid: 1 row would give" in page and not Subscription.objects.exists()
    response = client.post("/admin/revenue/csvimport/upload/", {"file": SimpleUploadedFile("s.csv", text)})
    assert response.status_code == 302 and Subscription.objects.get().mrr == 3000
    assert CsvImport.objects.get().imported_by == manager
    bad = client.post("/admin/revenue/csvimport/upload/",
                      {"file": SimpleUploadedFile("b.csv", text.replace(b"USD", b"US"))}).content.decode()  # fmt: skip
    assert "Nothing was written" in bad and "line 2: currency" in bad


def test_csv_upload_is_refused_to_readers(reader, db):
    assert _admin(reader).get("/admin/revenue/csvimport/upload/").status_code == 403
