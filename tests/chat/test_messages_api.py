import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chatapp.chat.models import Message
from tests.factories import MessageFactory

pytestmark = pytest.mark.django_db


def messages_url(org, channel):
    return f"/api/v1/orgs/{org.org.slug}/channels/{channel.pk}/messages/"


def message_url(org, message_id, suffix=""):
    return f"/api/v1/orgs/{org.org.slug}/messages/{message_id}/{suffix}"


def post(client, org, channel, body):
    response = client.post(messages_url(org, channel), {"body": body})
    assert response.status_code == 201, response.json()
    return response.json()


def test_post_and_list_newest_first(acme, client_for):
    client = client_for(acme.member)
    for text in ("one", "two", "three"):
        post(client, acme, acme.public, text)
    results = client.get(messages_url(acme, acme.public)).json()["results"]
    assert [m["body"] for m in results] == ["three", "two", "one"]
    assert results[0]["author"] == {
        "id": acme.member.pk,
        "email": acme.member.email,
        "full_name": acme.member.full_name,
    }


def test_posting_in_a_public_channel_joins_it(acme, client_for):
    post(client_for(acme.admin), acme, acme.public, "hi")
    assert acme.public.memberships.filter(user=acme.admin).exists()


def test_non_member_cannot_post_in_private_channel(acme, client_for):
    response = client_for(acme.member).post(messages_url(acme, acme.private), {"body": "let me in"})
    assert response.status_code == 404
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [({"body": ""}, "body"), ({"body": "x" * 10_001}, "body"), ({"body": 5, "extra": 1}, "extra"), ({}, "body")],
)
def test_bad_message_bodies_are_400_and_write_nothing(acme, client_for, body, field):
    response = client_for(acme.member).post(messages_url(acme, acme.public), body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Message.objects.exists()


def test_author_edits_others_cannot(acme, client_for):
    message = post(client_for(acme.member), acme, acme.public, "typo")
    assert client_for(acme.owner).patch(message_url(acme, message["id"]), {"body": "hijack"}).status_code == 403
    response = client_for(acme.member).patch(message_url(acme, message["id"]), {"body": "fixed"})
    assert response.status_code == 200
    assert response.json()["body"] == "fixed"
    assert response.json()["edited"] is not None


def test_delete_own_or_with_delete_any(acme, client_for):
    mine = post(client_for(acme.member), acme, acme.public, "mine")
    theirs = post(client_for(acme.owner), acme, acme.public, "theirs")
    assert client_for(acme.member).delete(message_url(acme, theirs["id"])).status_code == 403
    assert client_for(acme.member).delete(message_url(acme, mine["id"])).status_code == 204
    assert client_for(acme.admin).delete(message_url(acme, theirs["id"])).status_code == 204
    assert client_for(acme.member).get(messages_url(acme, acme.public)).json()["results"] == []
    assert Message.objects.filter(deleted__isnull=False).count() == 2  # soft-deleted, kept for retention
    assert client_for(acme.member).get(message_url(acme, mine["id"])).status_code == 404


def test_search_finds_only_readable_messages_of_the_org(acme, globex, client_for):
    MessageFactory(channel=acme.public, body="quarterly report ready")
    MessageFactory(channel=acme.private, body="quarterly report secret numbers")
    MessageFactory(channel=globex.public, body="quarterly report globex")
    response = client_for(acme.member).get(f"/api/v1/orgs/{acme.org.slug}/messages/search", {"q": "QUARTERLY"})
    assert response.status_code == 200
    assert [m["body"] for m in response.json()["results"]] == ["quarterly report ready"]
    owner = client_for(acme.owner).get(f"/api/v1/orgs/{acme.org.slug}/messages/search", {"q": "quarterly"})
    assert len(owner.json()["results"]) == 2


def test_search_needs_a_query(acme, client_for):
    response = client_for(acme.member).get(f"/api/v1/orgs/{acme.org.slug}/messages/search")
    assert response.status_code == 400
    assert "q" in response.json()["errors"]


def test_cursor_pagination_is_stable_while_messages_are_added(acme, client_for):
    client = client_for(acme.member)
    for i in range(25):
        MessageFactory(channel=acme.public, body=f"m{i}")
    first = client.get(messages_url(acme, acme.public), {"page_size": 10}).json()
    for i in range(5):  # new messages arrive while the client pages back through history
        MessageFactory(channel=acme.public, body=f"new{i}")
    seen = [m["body"] for m in first["results"]]
    next_url = first["next"]
    while next_url:
        page = client.get(next_url).json()
        seen += [m["body"] for m in page["results"]]
        next_url = page["next"]
    assert seen == [f"m{i}" for i in range(24, -1, -1)]


def test_bad_cursor_and_page_size_are_400(acme, client_for):
    client = client_for(acme.member)
    bad_cursor = client.get(messages_url(acme, acme.public), {"cursor": "not-a-cursor"})
    assert bad_cursor.status_code == 400
    assert "cursor" in bad_cursor.json()["errors"]
    for size in ("100000", "0", "ten"):
        response = client.get(messages_url(acme, acme.public), {"page_size": size})
        assert response.status_code == 400
        assert "page_size" in response.json()["errors"]


def test_filters_by_author_and_time(acme, client_for):
    MessageFactory(channel=acme.public, author=acme.owner, body="from owner")
    MessageFactory(channel=acme.public, author=acme.member, body="from member")
    client = client_for(acme.member)
    by_owner = client.get(messages_url(acme, acme.public), {"author": acme.owner.pk}).json()["results"]
    assert [m["body"] for m in by_owner] == ["from owner"]
    assert client.get(messages_url(acme, acme.public), {"since": "yesterday"}).status_code == 400


class TestCrossOrganization:
    def test_other_orgs_message_is_404_for_every_verb(self, acme, globex, client_for):
        foreign = MessageFactory(channel=globex.public, body="globex only")
        client = client_for(acme.owner)
        assert client.get(message_url(acme, foreign.pk)).status_code == 404
        assert client.patch(message_url(acme, foreign.pk), {"body": "x"}).status_code == 404
        assert client.delete(message_url(acme, foreign.pk)).status_code == 404
        assert client.get(message_url(globex, foreign.pk)).status_code == 404
        foreign.refresh_from_db()
        assert (foreign.body, foreign.deleted) == ("globex only", None)

    def test_cannot_post_into_another_orgs_channel_through_own_org(self, acme, globex, client_for):
        response = client_for(acme.owner).post(messages_url(acme, globex.public), {"body": "x"})
        assert response.status_code == 404
        assert not Message.objects.exists()


@pytest.mark.parametrize("page_size", [5, 50, 200])
def test_message_list_query_count_does_not_grow_with_page_size(acme, client_for, page_size):
    client = client_for(acme.member)
    authors = [acme.owner, acme.member, acme.admin]
    for i in range(210):
        MessageFactory(channel=acme.public, author=authors[i % 3])
    with CaptureQueriesContext(connection) as queries:
        response = client.get(messages_url(acme, acme.public), {"page_size": page_size})
    assert len(response.json()["results"]) == page_size
    # membership with its organization, the caller's grants, the channel, the page with authors
    assert len(queries) == 4
