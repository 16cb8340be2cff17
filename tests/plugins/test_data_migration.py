"""A version change runs the data migration the new version declares for the old version's data."""

import types

import pytest

from audit.models import AuditEvent
from plugins.models import Installation, Plugin, PluginData, PluginVersion
from plugins.registry import builtin_plugins, builtin_register
from tests.plugins.conftest import install

PLUGIN = "com.example.counter"
V1 = {
    "id": PLUGIN, "name": "Counter", "version": "1.0.0", "publisher": "tests", "description": "Counts.",
    "category": "utilities", "min_chatapp_version": "0.1.0", "capabilities": ["kv.store"],
}  # fmt: skip
module = types.ModuleType("counter_plugin")
module.MANIFEST = {**V1, "version": "2.0.0", "data_migrations": {"<2.0.0": "migrate_v1"}}


def migrate_v1(ctx, from_version):
    """v1 stored a bare number under "n"; v2 keeps it under "count"."""
    ctx.kv_set("count", ctx.kv_get("n") or "0")
    ctx.kv_delete("n")


module.migrate_v1 = migrate_v1


@pytest.fixture(autouse=True)
def registered():
    builtin_plugins._frozen = False
    builtin_register(module, source="test")
    builtin_plugins._frozen = True
    yield
    builtin_plugins._frozen = False
    builtin_plugins._entries.pop(PLUGIN, None)
    builtin_plugins._frozen = True


def test_upgrade_migrates_the_stored_data(acme, client_for, django_capture_on_commit_callbacks):
    client = client_for(acme.admin)
    client.get("/api/v1/marketplace/plugins/")  # the catalogue row of the registered (2.0.0) version
    plugin = Plugin.objects.get(plugin_id=PLUGIN)
    PluginVersion.objects.create(plugin=plugin, version="1.0.0", manifest=V1, status="approved")  # the old code's
    assert install(client, "acme", PLUGIN, ["kv.store"], version="1.0.0").status_code == 201
    PluginData.objects.create(organization=acme.org, plugin=plugin, key="n", value="41")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/orgs/acme/plugins/{PLUGIN}/version", {"version": "2.0.0"}, format="json")
    assert response.json()["version"] == "2.0.0"
    assert dict(PluginData.objects.values_list("key", "value")) == {"count": "41"}
    changed = AuditEvent.objects.get(event_name="plugin.version_changed")
    assert changed.metadata["data_migration"] == "migrate_v1"
    assert Installation.objects.get().errors == 0
