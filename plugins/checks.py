"""System checks: built-in plugins that failed to load, and a manifest schema file out of date."""

from django.core import checks


@checks.register()
def builtin_plugins_check(app_configs=None, **kwargs):
    from plugins.registry import load_problems

    messages = []
    for level, who, message in load_problems:
        klass, code = (checks.Error, "plugins.E001") if level == "error" else (checks.Warning, "plugins.W001")
        messages.append(klass(f"Built-in plugin {who} {message}", id=code))
    return messages


@checks.register()
def manifest_schema_check(app_configs=None, **kwargs):
    from plugins.manifest import SCHEMA_PATH, manifest_schema_json

    if SCHEMA_PATH.read_text() != manifest_schema_json():
        return [
            checks.Error(
                "plugins/manifest.schema.json differs from the capability and event registries",
                hint="Run `manage.py plugin schema --write`.",
                id="plugins.E002",
            )
        ]
    return []
