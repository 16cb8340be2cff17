import pytest
from django.core.management import call_command

from accounts.models import Membership, Organization, User
from chatapp.chat.models import Channel, Message

pytestmark = pytest.mark.django_db


def counts():
    return [model.objects.count() for model in (User, Organization, Membership, Channel, Message)]


def test_seed_demo_is_idempotent(capsys):
    call_command("seed_demo")
    first = counts()
    out = capsys.readouterr().out
    assert "owner@acme.example" in out and "owner@globex.example" in out
    assert "chatapp-demo-2026" in out
    call_command("seed_demo")
    assert counts() == first
    assert set(Organization.objects.values_list("slug", flat=True)) == {"acme", "globex"}
    assert Message.objects.count() >= 300
    assert Channel.objects.filter(is_private=True).count() == 2
    assert User.objects.get(email="owner@acme.example").check_password("chatapp-demo-2026")
