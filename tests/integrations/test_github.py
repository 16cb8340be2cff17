"""GitHub: every example payload of @octokit/webhooks-examples renders; signed deliveries post once; issues and
comments are created through a REST API server on loopback."""

import hashlib
import hmac
import json

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from chatapp.chat.models import Message
from plugins.integrations.github import handlers
from plugins.integrations.github.plugin import EVENTS
from plugins.integrations.models import InboundDelivery, Installation
from tests.integrations.conftest import octokit_examples, pk_of

SECRET = "It's a Secret to Everybody"


@pytest.fixture(scope="module")
def examples():
    return octokit_examples()


def test_every_example_of_every_supported_event_renders(examples):
    rendered = 0
    for event in EVENTS:
        assert examples.get(event), f"no examples for {event}"
        for payload in examples[event]:
            message = handlers.render(event, payload)
            assert message is not None and message.text.strip(), (event, payload.get("action"))
            assert "None" not in message.text, (event, message.text)
            rendered += 1
    assert rendered >= 90  # the pinned version has 99 examples of these events


def test_push_message_reads_well(examples):
    payload = next(p for p in examples["push"] if p["commits"])
    text = handlers.render("push", payload).text
    assert text.startswith(f"**{payload['pusher']['name']}** pushed")
    assert payload["repository"]["full_name"] in text and payload["commits"][0]["id"][:7] in text


def sign(body: bytes, secret=SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def github(acme, client_for, db):
    response = client_for(acme.owner).post(
        f"/api/v1/orgs/{acme.org.slug}/integrations/installations/",
        {"integration": "github", "settings": {
            "webhook_secret": SECRET, "token": "ghp_testtoken123", "default_repository": "Codertocat/Hello-World",
            "routes": [{"channel_id": acme.public.pk, "events": ["push", "issues", "pull_request"],
                        "branches": ["main", "release/*"]}],
        }},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    return response.json()


def deliver(url, event, payload, delivery="d-1", signature=None, raw=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {"HTTP_X_GITHUB_EVENT": event, "HTTP_X_GITHUB_DELIVERY": delivery}
    if signature is not False:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature or sign(body)
    return APIClient().post(url, body, content_type="application/json", **headers)


def push(branch="main"):
    return {"ref": f"refs/heads/{branch}", "compare": "https://github.com/o/r/compare/a...b", "created": False,
            "deleted": False, "forced": False, "pusher": {"name": "octocat"}, "sender": {"login": "octocat"},
            "repository": {"full_name": "o/r", "html_url": "https://github.com/o/r"},
            "commits": [{"id": "0123456789abcdef", "message": "Fix the thing\n\nlong text", "url": "https://github.com/o/r/commit/0123"}]}  # fmt: skip # noqa: E501


@pytest.mark.django_db
def test_settings_secrets_are_write_only(acme, client_for, github):
    shown = (
        client_for(acme.owner).get(f"/api/v1/orgs/{acme.org.slug}/integrations/installations/{pk_of('github')}/").json()
    )
    assert shown["secrets_set"] == ["token", "webhook_secret"]
    assert SECRET not in json.dumps(shown) and "ghp_testtoken123" not in json.dumps(shown)
    assert "ghp_testtoken123" not in json.dumps(list(AuditEvent.objects.values("changes", "metadata")))
    assert github["inbound_url"].startswith("/hooks/github/") and github["inbound_token"] in github["inbound_url"]
    assert Installation.objects.get().secrets["token"] == "ghp_testtoken123"  # encrypted at rest, readable here


@pytest.mark.django_db
def test_a_signed_push_is_posted_once(acme, github):
    response = deliver(github["inbound_url"], "push", push())
    assert response.status_code == 200 and response.json()["posted"] == 1
    message = Message.objects.get(channel=acme.public)
    assert (
        message.body.startswith("**octocat** pushed [1 commit]")
        and "`0123456`](https://github.com/o/r/commit/0123) Fix the thing" in message.body
    )
    assert message.author.email == "github-bot.acme@bots.chatapp.invalid"
    again = deliver(github["inbound_url"], "push", push())  # GitHub's redelivery: same X-GitHub-Delivery
    assert again.status_code == 200 and again.json()["detail"] == "Already received."
    assert Message.objects.count() == 1 and InboundDelivery.objects.count() == 1


@pytest.mark.django_db
def test_branch_and_event_filters(acme, github):
    assert deliver(github["inbound_url"], "push", push("feature/x"), delivery="a").json()["posted"] == 0
    assert deliver(github["inbound_url"], "push", push("release/1.2"), delivery="b").json()["posted"] == 1
    star = {"action": "created", "sender": {"login": "x"}, "repository": {"full_name": "o/r"}}
    assert deliver(github["inbound_url"], "star", star, delivery="c").status_code == 202
    assert Message.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("signature", [False, "sha256=" + "0" * 64, sign(b"other body"), sign(b"{}", "wrong")])
def test_wrong_or_missing_signature_is_401_and_posts_nothing(acme, github, signature):
    response = deliver(github["inbound_url"], "push", push(), signature=signature)
    assert response.status_code == 401
    assert not Message.objects.exists() and not InboundDelivery.objects.exists()
    assert AuditEvent.objects.filter(event_name="integrations.inbound.refused").count() == 1


@pytest.mark.django_db
def test_unknown_token_and_bad_bodies(acme, github):
    assert deliver("/hooks/github/nope/", "push", push()).status_code == 404
    assert deliver(github["inbound_url"], "push", None, raw=b"not json").status_code == 400
    assert deliver("/hooks/bitbucket/x/", "push", push()).status_code == 404


@pytest.mark.django_db
def test_create_issue_and_comment_from_a_message(acme, client_for, github, fake_api):
    client = client_for(acme.owner)
    client.patch(f"/api/v1/orgs/{acme.org.slug}/integrations/installations/{pk_of('github')}/",
                 {"settings": {"api_url": fake_api.url}}, format="json")  # fmt: skip
    message = Message.objects.create(organization=acme.org, channel=acme.public, author=acme.member,
                                     body="Login fails on Safari\nsteps: ...")  # fmt: skip
    fake_api.answers["/repos/Codertocat/Hello-World/issues"] = (
        201,
        {"number": 7, "html_url": "https://github.com/Codertocat/Hello-World/issues/7"},
    )
    response = client_for(acme.member).post(f"/api/v1/orgs/{acme.org.slug}/integrations/github/issues/",
                                            {"message_id": message.pk}, format="json")  # fmt: skip
    assert response.status_code == 201, response.json()
    assert response.json() == {
        "url": "https://github.com/Codertocat/Hello-World/issues/7",
        "key": "Codertocat/Hello-World#7",
    }
    call = fake_api.calls[0]
    assert call["headers"]["Authorization"] == "Bearer ghp_testtoken123"
    assert call["json"]["title"] == "Login fails on Safari" and "Login fails on Safari" in call["json"]["body"]
    assert AuditEvent.objects.filter(event_name="integrations.issue_created", actor_id=str(acme.member.pk)).exists()

    fake_api.answers["/issues/7/comments"] = (
        201,
        {"html_url": "https://github.com/Codertocat/Hello-World/issues/7#c1"},
    )
    comment = client.post(f"/api/v1/orgs/{acme.org.slug}/integrations/github/comments/",
                          {"message_id": message.pk, "issue": "7"}, format="json")  # fmt: skip
    assert comment.status_code == 201 and fake_api.calls[1]["path"].endswith("/issues/7/comments")

    fake_api.answers["/repos/Codertocat/Hello-World/issues"] = (401, {"message": "Bad credentials"})
    refused = client.post(f"/api/v1/orgs/{acme.org.slug}/integrations/github/issues/", {"message_id": message.pk},
                          format="json")  # fmt: skip
    assert refused.status_code == 502 and "Check the access token" in refused.json()["detail"]
    assert "ghp_testtoken123" not in refused.content.decode()


@pytest.mark.django_db
def test_message_actions_respect_channels_and_organizations(acme, globex, client_for, github):
    secret = Message.objects.create(organization=acme.org, channel=acme.private, author=acme.owner, body="x")
    hidden = client_for(acme.member).post(f"/api/v1/orgs/{acme.org.slug}/integrations/github/issues/",
                                          {"message_id": secret.pk}, format="json")  # fmt: skip
    assert hidden.status_code == 404
    other = client_for(globex.owner)
    assert other.post(f"/api/v1/orgs/{globex.org.slug}/integrations/github/issues/", {"message_id": secret.pk},
                      format="json").status_code == 404  # fmt: skip
    assert other.get(f"/api/v1/orgs/{globex.org.slug}/integrations/installations/{pk_of('github')}/").status_code == 404
    assert other.get(f"/api/v1/orgs/{globex.org.slug}/integrations/installations/").json() == []


@pytest.mark.django_db
def test_link_previews_for_issues_and_pull_requests(acme, globex, client_for, github, fake_api):
    client_for(acme.owner).patch(f"/api/v1/orgs/{acme.org.slug}/integrations/installations/{pk_of('github')}/",
                                 {"settings": {"api_url": fake_api.url}}, format="json")  # fmt: skip
    fake_api.answers["/repos/o/r/issues/5"] = (200, {"title": "Flaky test", "state": "open", "user": {"login": "ann"}})
    url = f"/api/v1/orgs/{acme.org.slug}/integrations/link-preview/?url=https://github.com/o/r/pull/5"
    preview = client_for(acme.member).get(url)
    assert preview.status_code == 200 and preview.json()["preview"] == {
        "provider": "github", "kind": "pull request", "url": "https://github.com/o/r/pull/5", "key": "o/r#5",
        "title": "Flaky test", "state": "open", "author": "ann",
    }  # fmt: skip
    client_for(acme.member).get(url)
    assert len(fake_api.calls) == 1  # cached
    other = f"/api/v1/orgs/{acme.org.slug}/integrations/link-preview/?url=https://example.com/x"
    assert client_for(acme.member).get(other).json() == {"preview": None}
    # another organization without GitHub installed gets no preview through acme's token
    mine = f"/api/v1/orgs/{globex.org.slug}/integrations/link-preview/?url=https://github.com/o/r/pull/5"
    assert client_for(globex.member).get(mine).json() == {"preview": None}
