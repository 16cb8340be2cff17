"""Jira: every fixture (from Atlassian's webhook documentation) renders; X-Hub-Signature is checked when a secret
is set; issues and comments are created with ADF bodies through a loopback API."""

import hashlib
import hmac
import json

import pytest
from rest_framework.test import APIClient

from chatapp.chat.models import Message
from plugins.integrations.jira import handlers
from plugins.integrations.jira.adf import to_adf
from tests.integrations.conftest import pk_of, written_fixtures

FIXTURES = written_fixtures("jira")
SECRET = "jira-webhook-secret"
BROWSE = "https://your-domain.atlassian.net/browse/TEST-1"
EXPECTED = {
    "issue_created__default": f"**Mia Krystof** created bug [TEST-1 Bug in business logic]({BROWSE})\n> Steps",
    "issue_updated__transition": "**Mia Krystof** moved [TEST-1 Bug in business logic]",
    "issue_updated__fields": f"updated [TEST-1 Bug in business logic]({BROWSE}) (priority, labels)",
    "issue_deleted__default": "**Mia Krystof** deleted [TEST-1",
    "comment_created__default": "**Mia Krystof** commented on [TEST-1 Bug in business logic]",
    "comment_updated__default": "**Mia Krystof** edited a comment on [TEST-1",
}  # fmt: skip


def test_every_fixture_has_an_expectation():
    assert set(FIXTURES) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_renders(name):
    payload = FIXTURES[name]
    rendered = handlers.render(handlers.event_of({}, payload), payload)
    assert rendered is not None and EXPECTED[name] in rendered.text, rendered.text
    assert rendered.scope == "TEST"


def test_transition_is_its_own_event():
    assert handlers.event_of({}, FIXTURES["issue_updated__transition"]) == "issue_transitioned"
    text = handlers.render("issue_transitioned", FIXTURES["issue_updated__transition"]).text
    assert text.endswith("from **To Do** to **In Progress**")


def test_adf_bodies():
    doc = to_adf("Crash on [login](https://x.test/l) with `code`\nline two\n\nsecond paragraph")
    assert doc["type"] == "doc" and doc["version"] == 1 and len(doc["content"]) == 2
    first = doc["content"][0]["content"]
    assert {
        "type": "text",
        "text": "login",
        "marks": [{"type": "link", "attrs": {"href": "https://x.test/l"}}],
    } in first
    assert {"type": "text", "text": "code", "marks": [{"type": "code"}]} in first and {"type": "hardBreak"} in first


@pytest.fixture
def jira(acme, client_for, db):
    response = client_for(acme.owner).post(
        f"/api/v1/orgs/{acme.org.slug}/integrations/installations/",
        {"integration": "jira", "settings": {
            "webhook_secret": SECRET, "site_url": "https://your-domain.atlassian.net", "email": "bot@acme.test",
            "api_token": "atl-token", "default_project": "TEST",
            "routes": [{"channel_id": acme.public.pk, "projects": ["TEST"],
                        "events": ["jira:issue_created", "issue_transitioned", "comment_created"]}],
        }},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    return response.json()


def send(url, payload, secret=SECRET, ident="w-1"):
    body = json.dumps(payload).encode()
    headers = {"HTTP_X_ATLASSIAN_WEBHOOK_IDENTIFIER": ident}
    if secret:
        headers["HTTP_X_HUB_SIGNATURE"] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return APIClient().post(url, body, content_type="application/json", **headers)


@pytest.mark.django_db
def test_signed_events_are_routed_and_others_refused(acme, jira):
    url = jira["inbound_url"]
    assert send(url, FIXTURES["issue_created__default"], secret=None).status_code == 401
    assert send(url, FIXTURES["issue_created__default"], secret="wrong").status_code == 401
    assert not Message.objects.exists()
    assert send(url, FIXTURES["issue_created__default"]).json()["posted"] == 1
    assert send(url, FIXTURES["issue_created__default"]).json()["detail"] == "Already received."
    assert send(url, FIXTURES["issue_updated__fields"], ident="w-2").json()["posted"] == 0  # not routed
    assert send(url, FIXTURES["issue_updated__transition"], ident="w-3").json()["posted"] == 1
    assert Message.objects.count() == 2


@pytest.mark.django_db
def test_create_issue_and_comment_with_adf(acme, client_for, jira, fake_api):
    client = client_for(acme.owner)
    client.patch(f"/api/v1/orgs/{acme.org.slug}/integrations/installations/{pk_of('jira')}/",
                 {"settings": {"site_url": fake_api.url}}, format="json")  # fmt: skip
    message = Message.objects.create(organization=acme.org, channel=acme.public, author=acme.owner,
                                     body="Checkout fails\nsee https://shop.test/o/1")  # fmt: skip
    fake_api.answers["/rest/api/3/issue"] = (201, {"id": "10002", "key": "TEST-2"})
    response = client.post(f"/api/v1/orgs/{acme.org.slug}/integrations/jira/issues/", {"message_id": message.pk},
                           format="json")  # fmt: skip
    assert response.status_code == 201 and response.json() == {"url": f"{fake_api.url}/browse/TEST-2", "key": "TEST-2"}
    call = fake_api.calls[0]
    assert call["headers"]["Authorization"].startswith("Basic ")
    fields = call["json"]["fields"]
    assert fields["project"] == {"key": "TEST"} and fields["summary"] == "Checkout fails"
    assert fields["description"]["type"] == "doc" and fields["description"]["version"] == 1
    fake_api.answers["/rest/api/3/issue/TEST-2/comment"] = (201, {"id": "5"})
    comment = client.post(f"/api/v1/orgs/{acme.org.slug}/integrations/jira/comments/",
                          {"message_id": message.pk, "issue": "TEST-2"}, format="json")  # fmt: skip
    assert comment.status_code == 201 and fake_api.calls[1]["json"]["body"]["type"] == "doc"
