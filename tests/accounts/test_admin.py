"""The admin as an operator uses it: lists with search and filters, and saves that go through services."""

import pytest

from accounts.models import Membership
from chatapp.chat.models import Message
from tests.factories import MessageFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/accounts/user/?q=acme",
        "/admin/accounts/organization/?q=acme",
        "/admin/accounts/membership/?role__exact=owner",
        "/admin/chat/channel/?is_private__exact=1",
        "/admin/chat/message/?q=hello",
        "/admin/kernel/workerheartbeat/",
        "/admin/django_celery_beat/periodictask/",
    ],
)
def test_admin_pages_render(acme, operator, path):
    MessageFactory(channel=acme.public, body="hello world")
    response = operator.get(path)
    assert response.status_code == 200


def test_demoting_the_last_owner_is_refused_with_the_reason(acme, operator):
    membership = Membership.objects.get(organization=acme.org, user=acme.owner)
    response = operator.post(
        f"/admin/accounts/membership/{membership.pk}/change/", {"role": "member", "is_active": "on"}, follow=True
    )
    assert "An organization needs at least one active owner." in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == "owner"


def test_changing_a_role_goes_through(acme, operator):
    membership = Membership.objects.get(organization=acme.org, user=acme.member)
    operator.post(f"/admin/accounts/membership/{membership.pk}/change/", {"role": "admin", "is_active": "on"})
    membership.refresh_from_db()
    assert membership.role == "admin"


def test_soft_delete_action_on_messages(acme, operator):
    message = MessageFactory(channel=acme.public)
    response = operator.post(
        "/admin/chat/message/", {"action": "soft_delete", "_selected_action": [message.pk]}, follow=True
    )
    assert "Deleted 1 message(s)." in response.content.decode()
    assert Message.objects.get(pk=message.pk).deleted is not None


def test_archive_action_on_channels(acme, operator):
    operator.post("/admin/chat/channel/", {"action": "archive", "_selected_action": [acme.public.pk]})
    acme.public.refresh_from_db()
    assert acme.public.is_archived


def test_org_admin_cannot_promote_to_owner_or_touch_an_owner(acme):
    from django.core.exceptions import PermissionDenied

    from accounts import services

    member = Membership.objects.get(organization=acme.org, user=acme.member)
    owner = Membership.objects.get(organization=acme.org, user=acme.owner)
    with pytest.raises(PermissionDenied, match=r"org\.manage"):
        services.member_update(actor=acme.admin, org=acme.org, membership=member, role="owner")
    with pytest.raises(PermissionDenied):
        services.member_update(actor=acme.admin, org=acme.org, membership=owner, is_active=False)
    member.refresh_from_db()
    owner.refresh_from_db()
    assert (member.role, owner.is_active) == ("member", True)
    services.member_update(actor=acme.admin, org=acme.org, membership=member, role="guest")
    member.refresh_from_db()
    assert member.role == "guest"
