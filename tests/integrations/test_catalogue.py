"""The catalogue of built-in integrations and their per-organization installation and settings."""

import json

import pytest

from audit.models import AuditEvent
from plugins.integrations import catalogue
from plugins.integrations.models import Installation
from tests.integrations.conftest import pk_of

URL = "/api/v1/orgs/{}/integrations/"


def test_every_manifest_has_the_shared_plugin_format():
    assert [i.slug for i in catalogue.integrations] == sorted(catalogue.INTEGRATIONS)
    for integration in catalogue.integrations:
        manifest = integration.manifest
        catalogue.check_manifest(integration.slug, manifest)
        assert manifest["id"] == f"com.chatapp.{integration.slug}" and manifest["publisher"] == "chatapp"
        for name in integration.secret_fields:  # secrets are write-only strings
            assert manifest["settings_schema"]["properties"][name]["type"] == "string"


@pytest.mark.django_db
def test_catalogue_lists_integrations_with_their_state(acme, client_for):
    client = client_for(acme.owner)
    client.post(URL.format("acme") + "installations/", {"integration": "jira", "settings": {}}, format="json")
    entries = {e["slug"]: e for e in client.get(URL.format("acme") + "catalogue/").json()}
    assert set(entries) == set(catalogue.INTEGRATIONS)
    assert entries["jira"]["installed"] and not entries["github"]["installed"]
    assert entries["github"]["manifest"]["settings_schema"]["properties"]["token"]["writeOnly"] is True


@pytest.mark.django_db
@pytest.mark.parametrize("body, field", [
    ({"integration": "nope"}, "integration"),
    ({"integration": "github", "settings": {"colour": "red"}}, "settings"),
    ({"integration": "github", "settings": {"routes": [{"channel_id": 999999}]}}, "settings"),
    ({"integration": "github", "settings": {"token": 12}}, "settings"),
    ({"integration": "github", "settings": {"default_repository": "no slash"}}, "settings"),
])  # fmt: skip
def test_bad_settings_are_refused_clearly(acme, client_for, body, field):
    response = client_for(acme.owner).post(URL.format("acme") + "installations/", body, format="json")
    assert response.status_code == 400 and field in response.json()["errors"]
    assert not Installation.objects.exists()
    if "token" in body.get("settings", {}):  # a secret's value is never echoed back
        assert response.json()["errors"]["settings"] == ["token: invalid value"]


@pytest.mark.django_db
def test_configure_keeps_secrets_unless_given_and_audits_names_only(acme, client_for):
    client = client_for(acme.owner)
    created = client.post(URL.format("acme") + "installations/",
                          {"integration": "github", "settings": {"token": "t-1", "webhook_secret": "s-1"}},
                          format="json")  # fmt: skip
    assert created.status_code == 201
    detail = URL.format("acme") + f"installations/{created.json()['id']}/"
    changed = client.patch(detail, {"settings": {"token": "t-2", "default_repository": "o/r"}}, format="json").json()
    assert changed["settings"] == {"default_repository": "o/r"} and changed["secrets_set"] == [
        "token",
        "webhook_secret",
    ]
    secrets = Installation.objects.get().secrets
    assert secrets == {"token": "t-2", "webhook_secret": "s-1"}
    cleared = client.patch(detail, {"settings": {"webhook_secret": None}, "enabled": False}, format="json").json()
    assert cleared["secrets_set"] == ["token"] and cleared["enabled"] is False
    trail = json.dumps(
        list(AuditEvent.objects.filter(event_name__startswith="integrations.").values("changes", "metadata"))
    )
    assert "t-1" not in trail and "t-2" not in trail and "s-1" not in trail and "token" in trail
    rotated = client.post(detail + "rotate-inbound-url/").json()
    assert rotated["inbound_token"] != created.json()["inbound_token"]
    assert client.delete(detail).status_code == 204 and not Installation.objects.exists()


@pytest.mark.django_db
def test_only_owners_and_only_their_organization(acme, globex, client_for):
    client_for(acme.owner).post(URL.format("acme") + "installations/", {"integration": "gitlab"}, format="json")
    assert client_for(acme.admin).get(URL.format("acme") + "installations/").status_code == 403
    assert client_for(acme.member).post(URL.format("acme") + "installations/", {"integration": "jira"},
                                        format="json").status_code == 403  # fmt: skip
    other = client_for(globex.owner)
    assert other.get(URL.format("acme") + "installations/").status_code == 404
    assert other.get(URL.format("globex") + f"installations/{pk_of('gitlab')}/").status_code == 404
    assert (
        other.patch(
            URL.format("globex") + f"installations/{pk_of('gitlab')}/", {"settings": {}}, format="json"
        ).status_code
        == 404
    )
