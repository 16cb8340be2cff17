"""Built-in plugins: Python modules the operator installs, registered once at start-up (write-once).

They are found in two places: the `chatapp.plugins` entry-point group of installed distributions (each entry
point names a module) and the CHATAPP_BUILTIN_PLUGINS setting (module paths). Each module exposes `MANIFEST`
(a dict, the manifest format of docs/plugins/manifest.md) and the handlers its manifest needs:

    def handle_event(ctx: PluginContext, event: str, payload: dict) -> None
    def handle_command(ctx: PluginContext, command: str, payload: dict) -> dict   # {"text": ...}
    def handle_action(ctx: PluginContext, action: str, payload: dict) -> dict
    def run_job(ctx: PluginContext, job: str) -> None
    def migrate_data(ctx: PluginContext, from_version: str) -> None

A module whose manifest is invalid, or that needs handlers it lacks, is a configuration error reported by the
system check (plugins.E001); one that does not support this chatapp version is skipped with a warning
(plugins.W001) that says which versions it supports.
"""

from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import entry_points
from types import ModuleType

from django.conf import settings

from chatapp.kernel.registry import Registry
from plugins.manifest import Manifest, ManifestError, manifest_compatible, manifest_load

ENTRY_POINT_GROUP = "chatapp.plugins"
HANDLERS = {
    "events": "handle_event",
    "slash_commands": "handle_command",
    "message_actions": "handle_action",
    "scheduled_jobs": "run_job",
}


@dataclass(frozen=True)
class BuiltinPlugin:
    manifest: Manifest
    module: ModuleType = field(compare=False)
    source: str = ""  # "entry point <name>" or "setting"

    @property
    def key(self) -> str:
        return self.manifest.data["id"]

    def handler(self, name: str):
        return getattr(self.module, name, None)


builtin_plugins: Registry[BuiltinPlugin] = Registry("built-in plugin")
# Problems found while loading, for the system check: (level, plugin or module, message).
load_problems: list[tuple[str, str, str]] = []


def _missing_handlers(manifest: Manifest, module: ModuleType) -> list[str]:
    needed = []
    if manifest.events:
        needed.append(HANDLERS["events"])
    contributes = manifest.data.get("contributes", {})
    for key in ("slash_commands", "message_actions", "scheduled_jobs"):
        if contributes.get(key):
            needed.append(HANDLERS[key])
    return [name for name in needed if not callable(getattr(module, name, None))]


def builtin_register(module: ModuleType, *, source: str) -> BuiltinPlugin | None:
    """Validate and register one module; problems go to `load_problems` (never half-registered)."""
    data = getattr(module, "MANIFEST", None)
    if data is None:
        load_problems.append(("error", module.__name__, "has no MANIFEST"))
        return None
    try:
        manifest = manifest_load(data, runtime="builtin")
    except ManifestError as exc:
        load_problems.append(("error", module.__name__, f"invalid manifest: {exc}"))
        return None
    missing = _missing_handlers(manifest, module)
    if missing:
        load_problems.append(("error", manifest.data["id"], f"lacks the handlers its manifest needs: {missing}"))
        return None
    reason = manifest_compatible(manifest)
    if reason:
        load_problems.append(("warning", manifest.data["id"], f"not loaded: {reason}"))
        return None
    return builtin_plugins.register(BuiltinPlugin(manifest=manifest, module=module, source=source))


def builtins_load() -> None:
    """Find and register every built-in plugin, then close the registry (AppConfig.ready, once)."""
    modules: list[tuple[str, str]] = [
        (entry.value.split(":")[0], f"entry point {entry.name}") for entry in entry_points(group=ENTRY_POINT_GROUP)
    ]
    modules += [(path, "setting CHATAPP_BUILTIN_PLUGINS") for path in settings.CHATAPP_BUILTIN_PLUGINS]
    for path, source in dict(modules).items():
        try:
            module = import_module(path)
        except ImportError as exc:
            load_problems.append(("error", path, f"cannot be imported ({exc})"))
            continue
        try:
            builtin_register(module, source=source)
        except Exception as exc:  # a duplicate id: report it rather than stop the server
            load_problems.append(("error", path, str(exc)))
    builtin_plugins.freeze()
