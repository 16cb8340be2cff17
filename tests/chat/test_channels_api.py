import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chatapp.chat.models import Channel, ChannelMember
from rbac.models import Grant, Role, Team, TeamMember
from tests.factories import ChannelFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def url(org, suffix=""):
    return f"/api/v1/orgs/{org.org.slug}/channels/{suffix}"


def names(response):
    return sorted(item["name"] for item in response.json()["results"])


def test_member_sees_public_channels_and_own_private_ones(acme, client_for):
    ChannelFactory(organization=acme.org, name="hidden", is_private=True)
    assert names(client_for(acme.member).get(url(acme))) == ["general"]
    assert names(client_for(acme.owner).get(url(acme))) == ["general", "hidden", "secret"]


def test_guest_sees_only_channels_they_were_added_to(acme, client_for):
    assert names(client_for(acme.guest).get(url(acme))) == []
    client_for(acme.owner).post(url(acme, f"{acme.public.pk}/members/"), {"user_id": acme.guest.pk})
    assert names(client_for(acme.guest).get(url(acme))) == ["general"]


def test_private_channel_detail_is_404_for_non_members(acme, client_for):
    response = client_for(acme.member).get(url(acme, f"{acme.private.pk}/"))
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_admin_sees_private_channel_but_cannot_read_it(acme, client_for):
    admin = client_for(acme.admin)
    assert admin.get(url(acme, f"{acme.private.pk}/")).status_code == 200
    assert admin.get(url(acme, f"{acme.private.pk}/messages/")).status_code == 404


def test_create_channel_makes_creator_a_member(acme, client_for):
    response = client_for(acme.member).post(url(acme), {"name": "design", "topic": "Pixels"})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body | {"id": 0, "created": ""} == {
        "id": 0,
        "name": "design",
        "topic": "Pixels",
        "is_private": False,
        "is_archived": False,
        "created": "",
        "is_member": True,
        "member_count": 1,
    }
    assert ChannelMember.objects.filter(channel_id=body["id"], user=acme.member).exists()


def test_duplicate_channel_name_is_409_whatever_the_case(acme, client_for):
    response = client_for(acme.member).post(url(acme), {"name": "GENERAL"})
    assert response.status_code == 409
    assert response.json()["type"] == "urn:chatapp:problem:conflict"
    assert Channel.objects.filter(organization=acme.org).count() == 2


def test_same_channel_name_is_fine_in_another_org(acme, globex, client_for):
    assert client_for(globex.member).post(url(globex), {"name": "design"}).status_code == 201
    assert client_for(acme.member).post(url(acme), {"name": "design"}).status_code == 201


def test_guest_cannot_create_channels(acme, client_for):
    response = client_for(acme.guest).post(url(acme), {"name": "guests"})
    assert response.status_code == 403
    assert "channels.create" in response.json()["detail"]


def test_rename_by_creator_and_refused_for_others(acme, client_for):
    channel = client_for(acme.member).post(url(acme), {"name": "ideas"}).json()
    other = MembershipFactory(organization=acme.org).user
    assert client_for(other).patch(url(acme, f"{channel['id']}/"), {"name": "x"}).status_code == 403
    response = client_for(acme.member).patch(url(acme, f"{channel['id']}/"), {"topic": "Big ones"})
    assert response.status_code == 200
    assert response.json()["topic"] == "Big ones"


def test_archive_makes_channel_read_only_and_unarchive_restores(acme, client_for):
    owner = client_for(acme.owner)
    assert owner.post(url(acme, f"{acme.public.pk}/archive")).json()["is_archived"] is True
    response = owner.post(url(acme, f"{acme.public.pk}/messages/"), {"body": "hello"})
    assert response.status_code == 409
    assert owner.patch(url(acme, f"{acme.public.pk}/"), {"topic": "x"}).status_code == 409
    assert owner.post(url(acme, f"{acme.public.pk}/unarchive")).json()["is_archived"] is False
    assert owner.post(url(acme, f"{acme.public.pk}/messages/"), {"body": "hello"}).status_code == 201


def test_member_cannot_archive_channel_they_did_not_create(acme, client_for):
    assert client_for(acme.member).post(url(acme, f"{acme.public.pk}/archive")).status_code == 403
    acme.public.refresh_from_db()
    assert acme.public.is_archived is False


def test_add_and_remove_channel_members(acme, client_for):
    owner = client_for(acme.owner)
    members_url = url(acme, f"{acme.private.pk}/members/")
    assert owner.post(members_url, {"user_id": acme.member.pk}).status_code == 201
    assert owner.post(members_url, {"user_id": acme.member.pk}).status_code == 200  # already there
    listed = [m["user"]["email"] for m in owner.get(members_url).json()["results"]]
    assert sorted(listed) == sorted([acme.owner.email, acme.member.email])
    assert names(client_for(acme.member).get(url(acme))) == ["general", "secret"]
    # a member may leave; removing someone else needs the right to manage the channel
    assert client_for(acme.member).delete(f"{members_url}{acme.owner.pk}/").status_code == 403
    assert client_for(acme.member).delete(f"{members_url}{acme.member.pk}/").status_code == 204
    assert names(client_for(acme.member).get(url(acme))) == ["general"]


def test_cannot_add_someone_from_another_org(acme, globex, client_for):
    response = client_for(acme.owner).post(url(acme, f"{acme.public.pk}/members/"), {"user_id": globex.member.pk})
    assert response.status_code == 400
    assert "user_id" in response.json()["errors"]
    assert not ChannelMember.objects.filter(user=globex.member, channel=acme.public).exists()


def test_filters(acme, client_for):
    owner = client_for(acme.owner)
    assert names(owner.get(url(acme), {"is_private": "true"})) == ["secret"]
    assert names(owner.get(url(acme), {"name": "GEN"})) == ["general"]
    assert owner.get(url(acme), {"is_private": "maybe"}).status_code == 400


class TestCrossOrganization:
    def test_other_orgs_channel_is_404_by_id(self, acme, globex, client_for):
        client = client_for(acme.owner)
        for suffix in (f"{globex.public.pk}/", f"{globex.public.pk}/messages/", f"{globex.public.pk}/members/"):
            assert client.get(url(acme, suffix)).status_code == 404

    def test_other_orgs_routes_are_404_like_a_missing_org(self, acme, globex, client_for):
        client = client_for(acme.owner)
        foreign = client.get(url(globex))
        missing = client.get("/api/v1/orgs/no-such-org/channels/")
        assert foreign.status_code == missing.status_code == 404
        assert foreign.json() == missing.json()
        assert client.post(url(globex), {"name": "intrusion"}).status_code == 404
        assert client.post(url(globex, f"{globex.public.pk}/archive")).status_code == 404
        assert not Channel.objects.filter(name="intrusion").exists()

    def test_lists_show_nothing_of_another_org(self, acme, globex, client_for):
        ids = {item["id"] for item in client_for(acme.owner).get(url(acme)).json()["results"]}
        assert ids == {acme.public.pk, acme.private.pk}

    def test_deactivated_member_loses_access(self, acme, client_for):
        acme.org.memberships.filter(user=acme.member).update(is_active=False)
        assert client_for(acme.member).get(url(acme)).status_code == 404


def test_channel_list_query_count_is_constant(acme, client_for):
    client = client_for(acme.owner)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url(acme), {"page_size": 200}).status_code == 200
        return len(queries)

    before = count()
    for i in range(30):
        channel = ChannelFactory(organization=acme.org, name=f"bulk-{i}", is_private=i % 2 == 0)
        MembershipFactory(organization=acme.org)
        channel.memberships.create(organization=acme.org, user=acme.owner)
    assert count() == before


def test_guest_list_through_resource_grants_keeps_its_query_count(acme, client_for):
    """A guest sees private channels granted to their teams; more grants and teams cost no extra query."""
    viewers = Role.objects.create(organization=acme.org, name="Viewers", permissions=["channels.view_private"])
    client = client_for(acme.guest)
    granted, counts = set(), []
    for teams in (1, 12):
        for index in range(teams):
            team = Team.objects.create(organization=acme.org, name=f"g{teams}-{index}")
            TeamMember.objects.create(organization=acme.org, team=team, user=acme.guest)
            channel = ChannelFactory(organization=acme.org, name=f"granted-{teams}-{index}", is_private=True)
            Grant.objects.create(
                organization=acme.org, role=viewers, team=team, resource_type="chat.channel", resource_id=channel.pk
            )
            granted.add(channel.pk)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url(acme), {"page_size": 200})
        assert response.status_code == 200
        assert {item["id"] for item in response.json()["results"]} == granted  # not acme.private
        counts.append(len(queries))
    assert counts[0] == counts[1]
