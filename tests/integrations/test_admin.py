"""The admin screens call the services: saves validate and audit, secrets are shown once, actions work."""

import pytest
from django.contrib.messages import get_messages

from audit.models import AuditEvent
from plugins.integrations.models import Delivery, DeliveryStatus, WebhookEndpoint
from plugins.integrations.services import webhooks
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_every_screen_opens(root, acme, receiver):
    endpoint, _ = webhooks.endpoint_create(actor=acme.owner, org=acme.org, name="ci", url=receiver.url,
                                           event_types=["*"])  # fmt: skip
    for model in ("installation", "webhookendpoint", "delivery", "incomingwebhook", "inbounddelivery", "slackimport"):
        assert root.get(f"/admin/integrations/{model}/").status_code == 200, model
    assert root.get(f"/admin/integrations/webhookendpoint/{endpoint.pk}/change/").status_code == 200
    assert root.get("/admin/integrations/webhookendpoint/add/").status_code == 200


def test_adding_an_endpoint_shows_the_secret_once_and_refusals_stay_on_screen(root, acme, receiver, settings):
    form = {"organization": acme.org.pk, "name": "ci", "url": receiver.url, "enabled": "on",
            "event_types": '["message.posted"]', "filters": "{}", "body_template": ""}  # fmt: skip
    response = root.post("/admin/integrations/webhookendpoint/add/", form)
    assert response.status_code == 302
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    endpoint = WebhookEndpoint.objects.get()
    assert any(endpoint.secret in m for m in shown)
    assert AuditEvent.objects.filter(event_name="integrations.webhook.created").exists()
    settings.INTEGRATIONS_ALLOW_PRIVATE = False
    refused = root.post("/admin/integrations/webhookendpoint/add/", {**form, "name": "other"}, follow=True)
    assert "Not saved" in refused.content.decode() and WebhookEndpoint.objects.count() == 1


def test_replay_and_test_actions(root, acme, receiver):
    endpoint, secret = webhooks.endpoint_create(actor=acme.owner, org=acme.org, name="ci", url=receiver.url,
                                                event_types=["*"])  # fmt: skip
    receiver.secrets = [secret]
    webhooks.event_publish(org=acme.org, event_type="message.posted", data={})
    webhooks.deliveries_run_due()
    delivery = Delivery.objects.get()
    root.post("/admin/integrations/delivery/", {"action": "replay", "_selected_action": [delivery.pk]})
    assert Delivery.objects.filter(replay_of=delivery).count() == 1
    root.post("/admin/integrations/webhookendpoint/", {"action": "send_test", "_selected_action": [endpoint.pk]})
    assert Delivery.objects.filter(is_test=True, status=DeliveryStatus.SUCCEEDED).count() == 1
