"""The echo plugin's logic as a built-in plugin (a Python module the operator installs), to show the
built-in module contract (docs/plugins/builtin.md) and to compare with the sandboxed one in bench/.

Register it with CHATAPP_BUILTIN_PLUGINS=examples.plugins.echo_builtin (or a `chatapp.plugins` entry point).
"""

PREFIX = "!echo "

MANIFEST = {
    "id": "com.example.echo-builtin",
    "name": "Echo (built-in)",
    "version": "1.0.0",
    "publisher": "example",
    "description": "Repeats messages that start with !echo, and answers /echo-builtin.",
    "category": "utilities",
    "min_chatapp_version": "0.1.0",
    "capabilities": ["messages.read", "messages.post", "events.subscribe", "commands.register", "kv.store"],
    "http_domains": [],
    "settings_schema": {
        "type": "object",
        "properties": {
            "prefix": {"type": "string", "maxLength": 10, "description": "What replies start with."},
            "api_token": {"type": "string", "writeOnly": True, "description": "Shows how secrets are handled."},
        },
        "additionalProperties": False,
    },
    "events": ["message.posted"],
    "contributes": {"slash_commands": [{"command": "/echo-builtin", "description": "Repeat the text"}]},
}


def handle_event(ctx, event, payload):
    body = payload.get("body", "")
    if event == "message.posted" and body.startswith(PREFIX):
        return {
            "replied": ctx.post_message(payload["channel_id"], ctx.settings.get("prefix", "") + body[len(PREFIX) :])
        }
    return {"replied": None}


def handle_command(ctx, command, payload):
    count = int(ctx.kv_get("count") or 0) + 1
    ctx.kv_set("count", str(count))
    return {"text": payload.get("text", ""), "count": count}
