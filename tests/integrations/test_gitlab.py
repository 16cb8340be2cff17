"""GitLab: every fixture (written from GitLab's webhook documentation, one file per variant) renders; the secret
token is checked; deliveries are de-duplicated on Idempotency-Key; issues are created through a loopback API."""

import json

import pytest
from rest_framework.test import APIClient

from chatapp.chat.models import Message
from plugins.integrations.gitlab import handlers
from tests.integrations.conftest import pk_of, written_fixtures

TOKEN = "gitlab-secret-token-1"
FIXTURES = written_fixtures("gitlab")

EXPECTED = {
    "push__default": "**jsmith** pushed 4 commits to `master` in [mike/diaspora]",
    "push__branch_deleted": "**jsmith** deleted branch `feature`",
    "tag_push__default": "**jsmith** pushed tag `v1.0.0`",
    "merge_request__opened": "**root** opened merge request [!1 MS-Viewport]",
    "merge_request__merged": "**root** merged merge request",
    "merge_request__approved": "**root** approved merge request",
    "issue__opened": "**root** opened issue [#23 New API: create/update/delete file]",
    "issue__closed": "**root** closed issue",
    "note__merge_request": "**root** commented on merge request [!1 Tempora",
    "note__issue": "**root** commented on issue [#17 test]",
    "note__commit": "**root** commented on commit [cfe32cf6]",
    "pipeline__success": "✅ [Pipeline #31](http://example.com/gitlab-org/gitlab-test/-/pipelines/31) passed",
    "pipeline__failed": "❌ [Pipeline #31]",
    "release__create": "Release [v1.1](https://example.com/gitlab-org/release-webhook-example/-/releases/v1.1)",
}


def test_every_documented_variant_has_a_fixture_and_an_expectation():
    assert set(FIXTURES) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_renders(name):
    payload = FIXTURES[name]
    rendered = handlers.render(handlers.event_of({}, payload), payload)
    assert rendered is not None and EXPECTED[name] in rendered.text, rendered.text


@pytest.fixture
def gitlab(acme, client_for, db):
    response = client_for(acme.owner).post(
        f"/api/v1/orgs/{acme.org.slug}/integrations/installations/",
        {"integration": "gitlab", "settings": {
            "webhook_token": TOKEN, "token": "glpat-abc", "default_project": "mike/diaspora",
            "routes": [{"channel_id": acme.public.pk, "projects": ["mike/diaspora"], "branches": ["master"]}],
        }},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    return response.json()


def send(url, payload, token=TOKEN, key="k-1"):
    headers = {"HTTP_X_GITLAB_EVENT": "Push Hook", "HTTP_IDEMPOTENCY_KEY": key}
    if token is not None:
        headers["HTTP_X_GITLAB_TOKEN"] = token
    return APIClient().post(url, json.dumps(payload), content_type="application/json", **headers)


@pytest.mark.django_db
def test_token_checked_and_retries_deduplicated(acme, gitlab):
    assert send(gitlab["inbound_url"], FIXTURES["push__default"], token=None).status_code == 401
    assert send(gitlab["inbound_url"], FIXTURES["push__default"], token="wrong").status_code == 401
    assert not Message.objects.exists()
    assert send(gitlab["inbound_url"], FIXTURES["push__default"]).json()["posted"] == 1
    assert send(gitlab["inbound_url"], FIXTURES["push__default"]).json()["detail"] == "Already received."
    # the pipeline on another branch is filtered out by the route's branches; issues have no branch and pass
    assert send(gitlab["inbound_url"], FIXTURES["pipeline__failed"], key="k-2").json()["posted"] == 0
    assert send(gitlab["inbound_url"], FIXTURES["issue__opened"], key="k-3").json()["posted"] == 1
    assert Message.objects.count() == 2


@pytest.mark.django_db
def test_create_issue_with_the_project_token(acme, client_for, gitlab, fake_api):
    client = client_for(acme.owner)
    client.patch(f"/api/v1/orgs/{acme.org.slug}/integrations/installations/{pk_of('gitlab')}/",
                 {"settings": {"api_url": fake_api.url + "/api/v4"}}, format="json")  # fmt: skip
    message = Message.objects.create(organization=acme.org, channel=acme.public, author=acme.owner, body="Crash")
    fake_api.answers["/projects/mike%2Fdiaspora/issues"] = (
        201,
        {"iid": 3, "web_url": "http://gl/mike/diaspora/-/issues/3"},
    )
    response = client.post(f"/api/v1/orgs/{acme.org.slug}/integrations/gitlab/issues/", {"message_id": message.pk},
                           format="json")  # fmt: skip
    assert response.status_code == 201 and response.json()["key"] == "mike/diaspora#3"
    assert fake_api.calls[0]["headers"]["PRIVATE-TOKEN"] == "glpat-abc"
    assert fake_api.calls[0]["json"] == {"title": "Crash", "description": fake_api.calls[0]["json"]["description"]}
