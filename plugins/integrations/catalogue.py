"""The built-in integrations' manifests, collected from plugins/integrations/<name>/plugin.py.

Each manifest has the shared plugin format (id, name, version, publisher, description, category,
min_chatapp_version, capabilities, http_domains, settings_schema, events, contributes); this module checks it
at start-up and answers "which integrations exist" until the plugin registry (plugins/) takes them over.
"""

from importlib import import_module

import jsonschema
import semver

from chatapp.kernel.registry import Registry, RegistryError

INTEGRATIONS = ("webhooks", "github", "gitlab", "slack", "teams", "jira")
CAPABILITIES = frozenset({
    "channels.read", "messages.read", "messages.post", "members.read", "kv.store", "http.outbound",
    "commands.register", "actions.register", "events.subscribe", "components.render",
})  # fmt: skip
REQUIRED_KEYS = (
    "id", "name", "version", "publisher", "description", "category", "min_chatapp_version", "capabilities",
    "http_domains", "settings_schema", "events", "contributes",
)  # fmt: skip


class Integration:
    """One integration: its slug (the folder name) and its manifest."""

    def __init__(self, slug: str, manifest: dict):
        self.slug, self.manifest = slug, manifest

    @property
    def key(self) -> str:
        return self.slug

    @property
    def secret_fields(self) -> tuple[str, ...]:
        properties = self.manifest["settings_schema"].get("properties", {})
        return tuple(sorted(name for name, spec in properties.items() if spec.get("writeOnly")))


integrations: Registry[Integration] = Registry("integration")


def check_manifest(slug: str, manifest: dict) -> None:
    missing = [key for key in REQUIRED_KEYS if key not in manifest]
    if missing:
        raise RegistryError(f"integration {slug}: manifest lacks {', '.join(missing)}")
    if not manifest["id"].startswith("com.chatapp."):
        raise RegistryError(f"integration {slug}: id must be reverse-DNS under com.chatapp.")
    semver.Version.parse(manifest["version"])
    unknown = set(manifest["capabilities"]) - CAPABILITIES
    if unknown:
        raise RegistryError(f"integration {slug}: unknown capabilities {sorted(unknown)}")
    jsonschema.Draft202012Validator.check_schema(manifest["settings_schema"])


def load() -> None:
    if len(integrations):
        return
    for slug in INTEGRATIONS:
        manifest = import_module(f"plugins.integrations.{slug}.plugin").MANIFEST
        check_manifest(slug, manifest)
        integrations.register(Integration(slug, manifest))
    integrations.freeze()


def get(slug: str) -> Integration | None:
    try:
        return integrations[slug]
    except RegistryError:
        return None
