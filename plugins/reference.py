"""docs/plugins/reference.md, generated from the registries (`manage.py plugin reference --write ...`)."""

from plugins.capabilities import capabilities, event_types
from plugins.manifest import manifest_schema

HEADER = """# Plugin reference (generated)

Generated from the capability and event registries and the manifest schema by
`manage.py plugin reference --write docs/plugins/reference.md`; do not edit by hand. The manifest's JSON Schema
is published as `plugins/manifest.schema.json`.
"""


def reference_markdown() -> str:
    lines = [HEADER, "## Capabilities", "",
             "| code | what the admin consents to | WIT interface | RBAC permission of the service identity |",
             "| --- | --- | --- | --- |"]  # fmt: skip
    for cap in capabilities:
        warning = " **(sensitive)**" if cap.sensitive else ""
        interface = f"`chatapp:plugin/{cap.interface}`" if cap.interface else "-"
        lines.append(f"| `{cap.key}` | {cap.description}{warning} | {interface} | {cap.permission or '-'} |")
    lines += ["", "## Events", "", "| event | when | capability needed besides events.subscribe |",
              "| --- | --- | --- |"]  # fmt: skip
    for event in event_types:
        lines.append(f"| `{event.key}` | {event.description} | `{event.capability}` |")
    schema = manifest_schema()
    required = set(schema["required"])
    lines += ["", "## Manifest keys", "", "| key | required | type | notes |", "| --- | --- | --- | --- |"]
    for key, spec in schema["properties"].items():
        kind = spec.get("type") or ("one of " + ", ".join(f"`{v}`" for v in spec["enum"]) if "enum" in spec else "")
        note = spec.get("description", "")
        if "pattern" in spec:
            note = (note + f" Pattern `{spec['pattern']}`.").strip()
        lines.append(f"| `{key}` | {'yes' if key in required else 'no'} | {kind} | {note} |")
    return "\n".join(lines) + "\n"
