"""Keep the catalogue's rows for built-in plugins in step with the registry (one version row per manifest
version, approved: the operator installed the code)."""

from django.db import transaction

from plugins.models import Plugin, PluginVersion
from plugins.registry import builtin_plugins


def builtins_sync() -> None:
    """Idempotent; one query when nothing changed."""
    wanted = {(b.key, b.manifest.data["version"]) for b in builtin_plugins}
    if not wanted:
        return
    present = set(
        PluginVersion.objects.filter(plugin__kind=Plugin.Kind.BUILTIN).values_list("plugin__plugin_id", "version")
    )
    for plugin_id, version in sorted(wanted - present):
        data = builtin_plugins[plugin_id].manifest.data
        with transaction.atomic():
            plugin, _ = Plugin.objects.get_or_create(
                plugin_id=plugin_id,
                defaults={"name": data["name"], "kind": Plugin.Kind.BUILTIN, "category": data["category"],
                          "description": data["description"], "capabilities": data["capabilities"]},
            )  # fmt: skip
            PluginVersion.objects.get_or_create(
                plugin=plugin, version=version,
                defaults={"manifest": data, "status": PluginVersion.Status.APPROVED},
            )  # fmt: skip
            Plugin.objects.filter(pk=plugin.pk).update(capabilities=data["capabilities"])
