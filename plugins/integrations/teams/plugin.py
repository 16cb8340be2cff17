from plugins.integrations.schemas import secret

MANIFEST = {
    "id": "com.chatapp.teams",
    "name": "Microsoft Teams",
    "version": "1.0.0",
    "publisher": "chatapp",
    "description": "Notifications to a Teams channel as Adaptive Cards (Workflows webhook), and messages from a "
    "Teams outgoing webhook.",
    "category": "communication",
    "min_chatapp_version": "1.0.0",
    "capabilities": ["messages.post", "messages.read", "channels.read", "http.outbound", "events.subscribe"],
    "http_domains": ["*.logic.azure.com", "*.powerplatform.com"],
    "settings_schema": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "workflow_url": secret("Workflows webhook URL", "The URL is the credential: stored encrypted."),
            "outgoing_webhook_token": secret("Outgoing webhook security token", "Base64, shown by Teams once."),
            "channel_id": {"type": "integer", "description": "The chatapp channel Teams messages are posted in."},
        },
    },
    "events": ["message.posted"],
    "contributes": {"slash_commands": [], "message_actions": [], "inbound_urls": ["/hooks/teams/{token}/"]},
}
