"""Admin screens for dashboards, ingestion keys, analytics settings and fill states; actions go through services."""

from django.db import transaction
from django_celery_beat.models import PeriodicTask

from analytics.models import AnalyticsSettings, Dashboard, IngestKey
from analytics.services import dashboard_create, ingest_key_create
from analytics.stats import fill_all
from audit.models import AuditEvent
from tests.factories import UserFactory


def _operator(client):
    operator = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(operator, backend="accounts.backends.EmailBackend")
    return operator


def test_dashboard_admin_lists_duplicates_and_deletes_through_services(client, acme):
    with transaction.atomic():
        dashboard = dashboard_create(actor=acme.owner, org=acme.org, name="Ops", tiles=[
            {"title": "DAU", "metric": "active_users"}])  # fmt: skip
    _operator(client)
    listing = client.get("/admin/analytics/dashboard/")
    assert listing.status_code == 200 and "Ops" in listing.content.decode()
    assert client.get(f"/admin/analytics/dashboard/{dashboard.pk}/change/").status_code == 200
    client.post("/admin/analytics/dashboard/", {"action": "duplicate", "_selected_action": [dashboard.pk]})
    assert Dashboard.objects.filter(name="Ops (copy)").exists()
    client.post("/admin/analytics/dashboard/", {"action": "delete_dashboards", "_selected_action": [dashboard.pk]})
    assert not Dashboard.objects.filter(pk=dashboard.pk).exists()
    assert AuditEvent.objects.filter(event_name="dashboard.deleted").count() == 1


def test_ingest_key_admin_revokes(client, acme):
    with transaction.atomic():
        key, raw = ingest_key_create(actor=acme.admin, org=acme.org, name="ios")
    _operator(client)
    page = client.get("/admin/analytics/ingestkey/").content.decode()
    assert key.prefix in page and raw not in page
    client.post("/admin/analytics/ingestkey/", {"action": "revoke", "_selected_action": [key.pk]})
    assert IngestKey.objects.get(pk=key.pk).revoked_at is not None


def test_settings_and_fill_state_admin(client, acme):
    _operator(client)
    response = client.post("/admin/analytics/analyticssettings/add/", {"organization": acme.org.pk, "enabled": ""})
    assert response.status_code == 302
    assert AnalyticsSettings.objects.get(organization=acme.org).enabled is False
    fill_all()
    page = client.get("/admin/analytics/fillstate/").content.decode()
    assert "events:hour" in page and "active_users_30d:day" in page


def test_fills_and_retention_are_scheduled(db):
    tasks = set(PeriodicTask.objects.values_list("task", flat=True))
    assert {"analytics.fill_all", "analytics.retention_run"} <= tasks
