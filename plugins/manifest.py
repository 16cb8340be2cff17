"""The plugin manifest: its JSON Schema (plugins/manifest.schema.json, generated from the registries) and the
checks a schema cannot express (semver ordering, the running chatapp's version, secret fields).

    manifest = manifest_load(data)          # a Manifest, or ManifestError with every reason
    manifest_compatible(manifest)           # "" or why this chatapp cannot run it

The keys and their meaning are shared with the built-in integrations (docs/plugins/manifest.md).
"""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jsonschema
import semver
from django.conf import settings

from plugins.capabilities import capabilities, event_types

SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")
ID_PATTERN = r"^[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$"
SEMVER_PATTERN = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-.]+)?$"
)
CATEGORIES = (
    "communication", "developer-tools", "productivity", "project-management", "security", "utilities", "other",
)  # fmt: skip
RUNTIMES = ("builtin", "wasm")


class ManifestError(ValueError):
    """A manifest was refused; `errors` lists every reason as "path: message"."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


# fmt: off
def manifest_schema() -> dict:
    """The JSON Schema of a manifest; the capability and event enums come from the registries."""
    name_list = {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:chatapp:plugin-manifest:1",
        "title": "chatapp plugin manifest",
        "type": "object",
        # Unknown top-level keys are allowed (a newer manifest on an older server); `plugin lint` warns about them.
        "additionalProperties": True,
        "required": [
            "id", "name", "version", "publisher", "description", "category", "min_chatapp_version", "capabilities",
        ],
        "properties": {
            "id": {"type": "string", "pattern": ID_PATTERN, "maxLength": 100,
                   "description": "Reverse-DNS identifier, e.g. com.chatapp.github; never changes."},
            "name": {"type": "string", "minLength": 1, "maxLength": 80},
            "version": {"type": "string", "pattern": SEMVER_PATTERN, "maxLength": 64},
            "publisher": {"type": "string", "minLength": 1, "maxLength": 80},
            "description": {"type": "string", "minLength": 1, "maxLength": 2000},
            "category": {"type": "string", "pattern": r"^[a-z][a-z0-9-]{1,39}$", "examples": list(CATEGORIES)},
            "min_chatapp_version": {"type": "string", "pattern": SEMVER_PATTERN},
            "max_chatapp_version": {"type": "string", "pattern": SEMVER_PATTERN},
            "capabilities": {**name_list, "items": {"enum": [c.key for c in capabilities]}},
            "http_domains": {**name_list, "items": {
                "type": "string", "maxLength": 253,
                "pattern": r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
                "description": "A host name; *.example.com also allows every subdomain."}},
            "settings_schema": {"type": "object",
                                "description": "JSON Schema of the per-organization settings; secret fields have "
                                               "\"writeOnly\": true."},
            "events": {**name_list, "items": {"enum": [e.key for e in event_types]}},
            "contributes": {
                "type": "object",
                "properties": {
                    "slash_commands": {"type": "array", "items": {
                        "type": "object", "required": ["command", "description"], "additionalProperties": False,
                        "properties": {"command": {"type": "string", "pattern": r"^/?[a-z0-9][a-z0-9_-]{0,31}$"},
                                       "description": {"type": "string", "maxLength": 200}}}},
                    "message_actions": {"type": "array", "items": {
                        "type": "object", "required": ["id", "label"], "additionalProperties": False,
                        "properties": {"id": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_.-]{0,63}$"},
                                       "label": {"type": "string", "minLength": 1, "maxLength": 60}}}},
                    "scheduled_jobs": {"type": "array", "items": {
                        "type": "object",
                        "properties": {"id": {"type": "string"}, "cron": {"type": "string"},
                                       "description": {"type": "string"}}}},
                    "components": {"type": "array", "items": {"type": "object"}},
                },
            },
            "runtime": {"enum": list(RUNTIMES), "description": "builtin (a Python module) or wasm (sandboxed)."},
            "world": {"type": "string", "description": "wasm only: the WIT world the component was built for."},
            "changelog": {"type": "string", "maxLength": 10000},
            "homepage": {"type": "string", "format": "uri", "maxLength": 300},
            "deprecated": {"type": "boolean"},
            "data_migrations": {"type": "object", "description":
                                "Version range (e.g. \"<2.0.0\") -> name of the handler that migrates stored data."},
        },
    }
# fmt: on


@cache
def _validator():
    schema = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.Draft202012Validator(schema)


@dataclass(frozen=True)
class Manifest:
    """A validated manifest; `data` is the manifest as given (stored with each version)."""

    data: dict

    def __getattr__(self, name):
        try:
            return self.__dict__["data"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def capabilities(self) -> list[str]:
        return list(self.data.get("capabilities", []))

    @property
    def events(self) -> list[str]:
        return list(self.data.get("events", []))

    @property
    def http_domains(self) -> list[str]:
        return list(self.data.get("http_domains", []))

    @property
    def runtime(self) -> str:
        return self.data.get("runtime", "builtin")

    @property
    def settings_schema(self) -> dict:
        return self.data.get("settings_schema") or {"type": "object", "properties": {}}

    def secret_fields(self) -> set[str]:
        properties = self.settings_schema.get("properties", {})
        return {name for name, spec in properties.items() if isinstance(spec, dict) and spec.get("writeOnly")}

    @property
    def slash_commands(self) -> list[dict]:
        """Commands with their leading slash (manifests may write it or not)."""
        commands = self.data.get("contributes", {}).get("slash_commands", [])
        return [{**c, "command": "/" + c["command"].lstrip("/")} for c in commands]

    @property
    def message_actions(self) -> list[dict]:
        return list(self.data.get("contributes", {}).get("message_actions", []))


KNOWN_KEYS = frozenset(manifest_schema()["properties"])


def manifest_load(data, *, runtime: str | None = None) -> Manifest:
    """Validate a manifest (a dict, or JSON text/bytes) and return it; ManifestError lists every problem.

    `runtime` is how the plugin is being loaded ("builtin" from a Python module, "wasm" from a package); a
    manifest that names another runtime is refused, one that names none gets it.
    """
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise ManifestError([f"manifest: not valid JSON ({exc})"]) from None
    if not isinstance(data, dict):
        raise ManifestError(["manifest: must be a JSON object"])
    errors = [
        f"{'/'.join(str(p) for p in error.absolute_path) or 'manifest'}: {error.message}"
        for error in sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if runtime:
        if data.get("runtime", runtime) != runtime:
            errors.append(f"runtime: this is loaded as a {runtime} plugin but the manifest says {data['runtime']}")
        data = {**data, "runtime": runtime}
    if not errors:
        errors = _semantic_errors(data)
    if errors:
        raise ManifestError(errors)
    return Manifest(data)


def _semantic_errors(data: dict) -> list[str]:
    errors = []
    low, high = data["min_chatapp_version"], data.get("max_chatapp_version")
    if high and semver.Version.parse(low).compare(high) > 0:
        errors.append(f"max_chatapp_version: {high} is lower than min_chatapp_version {low}")
    caps = set(data["capabilities"])
    if data.get("http_domains") and "http.outbound" not in caps:
        errors.append("http_domains: listed without requesting the http.outbound capability")
    if "http.outbound" in caps and not data.get("http_domains"):
        errors.append("http_domains: http.outbound needs at least one declared domain")
    if data.get("events") and "events.subscribe" not in caps:
        errors.append("events: subscribing to events needs the events.subscribe capability")
    for name in data.get("events", []):
        needed = event_types[name].capability
        if needed not in caps:
            errors.append(f"events: {name} needs the {needed} capability")
    contributes = data.get("contributes", {})
    if contributes.get("slash_commands") and "commands.register" not in caps:
        errors.append("contributes/slash_commands: needs the commands.register capability")
    if contributes.get("message_actions") and "actions.register" not in caps:
        errors.append("contributes/message_actions: needs the actions.register capability")
    if contributes.get("components") and "components.render" not in caps:
        errors.append("contributes/components: needs the components.render capability")
    schema = data.get("settings_schema")
    if schema is not None:
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            errors.append(f"settings_schema: not a valid JSON Schema ({exc.message})")
        if schema.get("type", "object") != "object":
            errors.append("settings_schema: must describe an object")
    if data.get("runtime") == "wasm" and not data.get("world"):
        errors.append("world: a wasm plugin names the WIT world it was built for")
    return errors


def chatapp_version() -> str:
    return settings.CHATAPP_VERSION


def manifest_compatible(manifest: Manifest, *, version: str | None = None) -> str:
    """ "" when this chatapp may run the plugin, else a sentence saying why not (shown to admins as is)."""
    running = version or chatapp_version()
    low, high = manifest.data["min_chatapp_version"], manifest.data.get("max_chatapp_version")
    if semver.Version.parse(running).compare(low) < 0:
        return (
            f"{manifest.data['name']} {manifest.data['version']} needs chatapp {low} or later; "
            f"this server runs chatapp {running}."
        )
    if high and semver.Version.parse(running).compare(high) > 0:
        return (
            f"{manifest.data['name']} {manifest.data['version']} supports chatapp up to {high}; "
            f"this server runs chatapp {running}."
        )
    return ""


def manifest_schema_json() -> str:
    return json.dumps(manifest_schema(), indent=2) + "\n"
