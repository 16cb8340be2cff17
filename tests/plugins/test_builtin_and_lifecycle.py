"""Built-in plugins and the per-organization lifecycle, through the API: install with consent, configure with
write-only secrets, channels, enable/disable, events answered, commands, capability checks, uninstall."""

import pytest
from django.core import mail

from audit.models import AuditEvent
from chatapp.chat.models import Message
from examples.plugins import echo_builtin
from plugins.models import Installation, PluginData
from plugins.registry import builtin_plugins, builtin_register
from tests.plugins.conftest import install

PLUGIN = "com.example.echo-builtin"
ALL = echo_builtin.MANIFEST["capabilities"]


@pytest.fixture(autouse=True)
def registered():
    """Register the example built-in plugin as CHATAPP_BUILTIN_PLUGINS would at start-up."""
    builtin_plugins._frozen = False
    if PLUGIN not in builtin_plugins:
        builtin_register(echo_builtin, source="test")
    builtin_plugins._frozen = True
    yield
    builtin_plugins._frozen = False
    builtin_plugins._entries.pop(PLUGIN, None)
    builtin_plugins._frozen = True


@pytest.fixture
def installed(acme, client_for):
    response = install(client_for(acme.admin), "acme", PLUGIN, ALL, channel_ids=[acme.public.pk])
    assert response.status_code == 201, response.json()
    return response.json()


def post(client, org, channel, body, capture):
    with capture(execute=True):
        response = client.post(f"/api/v1/orgs/{org}/channels/{channel.pk}/messages/", {"body": body}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_listed_in_the_marketplace(acme, client_for):
    response = client_for(acme.member).get("/api/v1/marketplace/plugins/?capability=kv.store")
    assert response.status_code == 200
    listing = next(row for row in response.json() if row["plugin_id"] == PLUGIN)
    assert listing["kind"] == "builtin" and listing["verified"] is True
    other = client_for(acme.member).get("/api/v1/marketplace/plugins/?capability=http.outbound").json()
    assert PLUGIN not in {row["plugin_id"] for row in other}
    assert client_for(acme.member).get("/api/v1/marketplace/plugins/?q=repeats").json()[0]["plugin_id"] == PLUGIN


def test_install_needs_consent_to_every_capability(acme, client_for):
    response = install(client_for(acme.admin), "acme", PLUGIN, ["messages.read"])
    assert response.status_code == 400
    assert "missing: commands.register" in response.json()["errors"]["consent"][0]
    assert not Installation.objects.exists()


def test_a_member_cannot_install(acme, client_for):
    response = install(client_for(acme.member), "acme", PLUGIN, ALL)
    assert response.status_code == 403
    assert not Installation.objects.exists()


def test_installed_plugin_answers_a_posted_message_as_itself(
    acme, client_for, installed, eager, django_capture_on_commit_callbacks
):
    post(client_for(acme.member), "acme", acme.public, "!echo hello", django_capture_on_commit_callbacks)
    reply = Message.objects.filter(channel=acme.public).order_by("-pk").first()
    assert reply.body == "hello"
    assert reply.author_id == installed["service_user_id"]
    posted = AuditEvent.objects.filter(event_name="message.posted", actor_type="plugin").get()
    assert posted.actor_label == "plugin:com.example.echo-builtin@1.0.0"
    call = AuditEvent.objects.get(event_name="plugin.api_call")
    assert (call.actor_label, call.target_id, call.metadata["capability"]) == (
        "plugin:com.example.echo-builtin@1.0.0",
        "post_message",
        "messages.post",
    )
    detail = client_for(acme.admin).get(f"/api/v1/orgs/acme/plugins/{PLUGIN}/").json()
    assert detail["metrics"]["calls"] == 1 and detail["metrics"]["errors"] == 0


def test_installed_in_acme_has_no_effect_in_globex(
    acme, globex, client_for, installed, eager, django_capture_on_commit_callbacks
):
    post(client_for(globex.member), "globex", globex.public, "!echo hello", django_capture_on_commit_callbacks)
    assert list(Message.objects.filter(channel=globex.public).values_list("body", flat=True)) == ["!echo hello"]
    assert client_for(globex.admin).get(f"/api/v1/orgs/globex/plugins/{PLUGIN}/").status_code == 404
    assert (
        client_for(globex.admin)
        .patch(f"/api/v1/orgs/globex/plugins/{PLUGIN}/settings", {"values": {"prefix": "x"}}, format="json")
        .status_code
        == 404
    )


def test_channels_not_granted_are_not_seen(acme, client_for, installed, eager, django_capture_on_commit_callbacks):
    channel = client_for(acme.member).post("/api/v1/orgs/acme/channels/", {"name": "random"}, format="json").json()
    with django_capture_on_commit_callbacks(execute=True):
        client_for(acme.member).post(f"/api/v1/orgs/acme/channels/{channel['id']}/messages/", {"body": "!echo x"},
                                     format="json")  # fmt: skip
    assert Message.objects.filter(channel_id=channel["id"]).count() == 1


def test_secrets_are_write_only_and_validated(acme, client_for, installed):
    client = client_for(acme.admin)
    url = f"/api/v1/orgs/acme/plugins/{PLUGIN}/settings"
    response = client.patch(url, {"values": {"prefix": "> ", "api_token": "s3cr3t-value"}}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["settings"] == {"prefix": "> ", "api_token": {"set": True}}
    assert "s3cr3t-value" not in response.content.decode()
    assert Installation.objects.get().secrets == {"api_token": "s3cr3t-value"}
    audit = AuditEvent.objects.get(event_name="plugin.configured")
    assert "s3cr3t-value" not in str(audit.metadata) and audit.metadata["secrets_changed"] == ["api_token"]
    # omitted keeps the secret; a bad value is refused with the reason and nothing changes
    assert client.patch(url, {"values": {"prefix": "-"}}, format="json").json()["settings"]["api_token"] == {
        "set": True
    }
    response = client.patch(url, {"values": {"prefix": "far too long a prefix", "nope": 1}}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"prefix", "settings"}
    assert Installation.objects.get().settings == {"prefix": "-"}


def test_disabled_plugin_does_nothing_and_can_be_enabled(
    acme, client_for, installed, eager, django_capture_on_commit_callbacks
):
    client = client_for(acme.admin)
    assert client.post(f"/api/v1/orgs/acme/plugins/{PLUGIN}/disable").json()["enabled"] is False
    post(client_for(acme.member), "acme", acme.public, "!echo quiet", django_capture_on_commit_callbacks)
    assert Message.objects.filter(body="quiet").count() == 0
    assert client.post(f"/api/v1/orgs/acme/plugins/{PLUGIN}/enable").json()["enabled"] is True
    post(client_for(acme.member), "acme", acme.public, "!echo loud", django_capture_on_commit_callbacks)
    assert Message.objects.filter(body="loud").count() == 1


def test_slash_command_uses_the_kv_store(acme, client_for, installed):
    client = client_for(acme.member)
    body = {"command": "/echo-builtin", "text": "hi", "channel_id": acme.public.pk}
    assert client.post("/api/v1/orgs/acme/plugins/commands", body, format="json").json()["response"] == {
        "text": "hi", "count": 1,
    }  # fmt: skip
    assert client.post("/api/v1/orgs/acme/plugins/commands", body, format="json").json()["response"]["count"] == 2
    response = client.post("/api/v1/orgs/acme/plugins/commands", {**body, "command": "/nope"}, format="json")
    assert response.status_code == 400 and "No enabled plugin provides /nope" in response.json()["errors"]["command"][0]


def test_a_capability_not_consented_is_refused_and_audited(acme, client_for, installed):
    from plugins.host import PluginContext, PluginDenied

    installation = Installation.objects.get()
    installation.consented_capabilities = [c for c in ALL if c != "kv.store"]
    installation.save()
    ctx = PluginContext(installation)
    with pytest.raises(PluginDenied, match=r"did not consent to the kv\.store"):
        ctx.kv_set("k", "v")
    with pytest.raises(PluginDenied, match=r"does not declare the members\.read"):
        ctx.list_members()
    denied = AuditEvent.objects.filter(event_name="plugin.api_denied").order_by("pk")
    assert [(e.target_id, e.outcome, e.actor_type) for e in denied] == [
        ("kv_set", "denied", "plugin"), ("list_members", "denied", "plugin"),
    ]  # fmt: skip
    assert not PluginData.objects.exists()


def test_rbac_of_the_service_identity_applies(acme, client_for, installed):
    """A plugin may not post in a channel it was not granted, whatever its capabilities."""
    from plugins.host import PluginContext, PluginDenied

    ctx = PluginContext(Installation.objects.get())
    with pytest.raises(PluginDenied, match="was not granted"):
        ctx.post_message(acme.private.pk, "sneaky")
    assert not Message.objects.filter(body="sneaky").exists()


def test_repeated_failures_disable_the_plugin_and_tell_the_admins(
    acme, client_for, installed, settings, django_capture_on_commit_callbacks
):
    from plugins.runtime import DeliveryFailed, deliver

    settings.PLUGIN_FAILURE_LIMIT = 3
    installation = Installation.objects.get()
    for _ in range(3):
        with pytest.raises(DeliveryFailed), django_capture_on_commit_callbacks(execute=True):
            # the channel was not granted: each delivery's refused host call is a failure
            deliver(installation, kind="event", name="message.posted", payload={"channel_id": acme.private.pk,
                                                                                "body": "!echo x"})  # fmt: skip
    installation.refresh_from_db()
    assert installation.enabled is False and "3 failures" in installation.disabled_reason
    assert AuditEvent.objects.filter(event_name="plugin.failed").count() == 3
    assert AuditEvent.objects.filter(event_name="plugin.auto_disabled").count() == 1
    assert [sorted(m.to) for m in mail.outbox if "was disabled" in m.subject] == [
        ["admin@acme.test", "owner@acme.test"]
    ]
    detail = client_for(acme.admin).get(f"/api/v1/orgs/acme/plugins/{PLUGIN}/").json()
    assert detail["enabled"] is False and detail["metrics"]["errors"] == 3


def test_uninstall_keeps_or_removes_data(acme, client_for, installed):
    client = client_for(acme.admin)
    client.post("/api/v1/orgs/acme/plugins/commands",
                {"command": "/echo-builtin", "text": "", "channel_id": acme.public.pk}, format="json")  # fmt: skip
    assert client.delete(f"/api/v1/orgs/acme/plugins/{PLUGIN}/?keep_data=true").status_code == 204
    assert PluginData.objects.count() == 1 and not Installation.objects.exists()
    assert install(client, "acme", PLUGIN, ALL).status_code == 201
    assert client.delete(f"/api/v1/orgs/acme/plugins/{PLUGIN}/").status_code == 204
    assert PluginData.objects.count() == 0
    assert AuditEvent.objects.filter(event_name="plugin.uninstalled").count() == 2


def test_list_is_org_scoped_and_query_count_is_flat(acme, globex, client_for, installed, django_assert_max_num_queries):
    install(client_for(globex.admin), "globex", PLUGIN, ALL)
    with django_assert_max_num_queries(12):
        response = client_for(acme.admin).get("/api/v1/orgs/acme/plugins/")
    assert [row["plugin_id"] for row in response.json()] == [PLUGIN]
    assert client_for(acme.member).get("/api/v1/orgs/acme/plugins/").status_code == 403
