"""Incoming webhooks: a secret URL per channel that accepts {"text"} and Slack's payload format."""

import json
from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from chatapp.chat.models import ChannelMember, Message
from chatapp.chat.services import channel_set_archived
from plugins.integrations.models import IncomingWebhook

pytestmark = pytest.mark.django_db


def create(client, org, channel, name="deploys"):
    response = client.post(f"/api/v1/orgs/{org.slug}/integrations/webhooks/incoming/",
                           {"name": name, "channel_id": channel.pk}, format="json")  # fmt: skip
    assert response.status_code == 201, response.json()
    return response.json()


def post(url, payload, **kwargs):
    return APIClient().post(url, json.dumps(payload), content_type="application/json", **kwargs)


def test_text_is_posted_by_the_bot_and_audited(acme, client_for):
    hook = create(client_for(acme.owner), acme.org, acme.public)
    assert hook["url"].startswith("/hooks/incoming/")
    listed = client_for(acme.owner).get(f"/api/v1/orgs/{acme.org.slug}/integrations/webhooks/incoming/").json()
    assert "url" not in listed[0] and hook["url"] not in json.dumps(listed)

    response = post(hook["url"], {"text": "Build *42* passed: <https://ci.example.com/42|details>"})
    assert response.status_code == 200 and response.content == b"ok"
    message = Message.objects.get(channel=acme.public)
    assert message.body == "Build **42** passed: [details](https://ci.example.com/42)"
    assert message.author.email == "webhooks-bot.acme@bots.chatapp.invalid"
    assert not message.author.has_usable_password()
    event = AuditEvent.objects.get(event_name="message.posted")
    assert event.actor_id == str(message.author.pk)


def test_slack_blocks_and_attachments_are_mapped(acme, client_for):
    hook = create(client_for(acme.owner), acme.org, acme.public)
    payload = {
        "text": "fallback only",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Deploy"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "~old~ *new* for <@U123|alice>"},
             "fields": [{"type": "mrkdwn", "text": "*Env*\nprod"}]},
            {"type": "divider"},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "by CI"}]},
        ],
        "attachments": [{"title": "Run 7", "title_link": "https://ci.example.com/7", "text": "all green",
                         "fields": [{"title": "Took", "value": "3 min"}], "footer": "ci"}],
    }  # fmt: skip
    assert post(hook["url"], payload).status_code == 200
    body = Message.objects.get().body
    assert body == (
        "### Deploy\n\n~~old~~ **new** for @alice\n**Env**\nprod\n\n---\n\nby CI\n\n"
        "**[Run 7](https://ci.example.com/7)**\nall green\n**Took**: 3 min\n_ci_"
    )


def test_slack_legacy_form_encoding_works(acme, client_for):
    hook = create(client_for(acme.owner), acme.org, acme.public)
    body = urlencode({"payload": json.dumps({"text": "from curl"})})
    response = APIClient().post(hook["url"], body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and Message.objects.get().body == "from curl"


def test_bad_requests_get_clear_errors_and_post_nothing(acme, client_for):
    hook = create(client_for(acme.owner), acme.org, acme.public)
    assert post("/hooks/incoming/not-a-token/", {"text": "x"}).status_code == 404
    assert APIClient().post(hook["url"], "{nope", content_type="application/json").status_code == 400
    assert post(hook["url"], ["text"]).status_code == 400
    empty = post(hook["url"], {"text": "   "})
    assert empty.status_code == 400 and "Nothing to post" in empty.json()["detail"]
    assert APIClient().get(hook["url"]).status_code == 405
    assert not Message.objects.exists()


def test_rate_limited_per_hook(acme, client_for, settings):
    settings.INTEGRATIONS_INCOMING_RATE_PER_MINUTE = 3
    hook = create(client_for(acme.owner), acme.org, acme.public)
    statuses = [post(hook["url"], {"text": f"m{i}"}).status_code for i in range(4)]
    assert statuses[:3] == [200, 200, 200] and statuses[3] == 429
    assert int(post(hook["url"], {"text": "again"})["Retry-After"]) <= 60
    assert Message.objects.count() == 3


def test_private_channels_get_the_bot_as_member_and_archived_ones_refuse(acme, client_for):
    hook = create(client_for(acme.owner), acme.org, acme.private, name="secret-hook")
    bot = IncomingWebhook.objects.get().organization.memberships.get(user__email__startswith="webhooks-bot").user
    assert ChannelMember.objects.filter(channel=acme.private, user=bot).exists()
    assert post(hook["url"], {"text": "psst"}).status_code == 200
    channel_set_archived(actor=acme.owner, org=acme.org, channel=acme.private, archived=True)
    refused = post(hook["url"], {"text": "late"})
    assert refused.status_code == 409 and Message.objects.count() == 1


def test_deleting_a_hook_kills_its_url_and_other_orgs_cannot_touch_it(acme, globex, client_for):
    hook = create(client_for(acme.owner), acme.org, acme.public)
    outsider = client_for(globex.owner)
    assert (
        outsider.delete(f"/api/v1/orgs/{globex.org.slug}/integrations/webhooks/incoming/{hook['id']}/").status_code
        == 404
    )
    assert outsider.get(f"/api/v1/orgs/{globex.org.slug}/integrations/webhooks/incoming/").json() == []
    bad = client_for(globex.owner).post(f"/api/v1/orgs/{globex.org.slug}/integrations/webhooks/incoming/",
                                        {"name": "x", "channel_id": acme.public.pk}, format="json")  # fmt: skip
    assert bad.status_code == 400
    assert (
        client_for(acme.member).get(f"/api/v1/orgs/{acme.org.slug}/integrations/webhooks/incoming/").status_code == 403
    )
    owner = client_for(acme.owner)
    assert owner.delete(f"/api/v1/orgs/{acme.org.slug}/integrations/webhooks/incoming/{hook['id']}/").status_code == 204
    assert post(hook["url"], {"text": "x"}).status_code == 404
    assert AuditEvent.objects.filter(event_name__startswith="integrations.incoming.").count() == 2


def test_the_request_log_never_shows_the_token(acme, client_for, caplog):
    hook = create(client_for(acme.owner), acme.org, acme.public)
    token = hook["url"].split("/")[3]
    with caplog.at_level("INFO", logger="chatapp.request"):
        post(hook["url"], {"text": "hi"})
    logged = " ".join(str(r.msg) for r in caplog.records)
    assert "/hooks/incoming/[redacted]" in logged and token not in logged
