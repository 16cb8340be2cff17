"""JSON Schema pieces the manifests share."""


def routes(event_names: list[str], scope: str, scope_help: str) -> dict:
    """Which events go to which channel: a list of routes, each with optional filters (empty means all)."""
    return {
        "type": "array",
        "title": "Channel routes",
        "description": "Each matching event is posted once in every route's channel.",
        "items": {
            "type": "object",
            "required": ["channel_id"],
            "additionalProperties": False,
            "properties": {
                "channel_id": {"type": "integer", "minimum": 1},
                scope: {"type": "array", "items": {"type": "string", "minLength": 1}, "description": scope_help},
                "events": {"type": "array", "items": {"enum": event_names}, "description": "Empty: all."},
                "branches": {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1},
                    "description": "Branch patterns (fnmatch, e.g. main, release/*); empty: all branches.",
                },
            },
        },
    }


def secret(title: str, description: str = "") -> dict:
    return {"type": "string", "title": title, "description": description, "writeOnly": True, "minLength": 1}
