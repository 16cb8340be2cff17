from plugins.integrations.schemas import secret

MANIFEST = {
    "id": "com.chatapp.slack",
    "name": "Slack",
    "version": "1.0.0",
    "publisher": "chatapp",
    "description": "Mirror Slack channels into chatapp, send notifications to Slack with Block Kit, and import a "
    "Slack workspace export.",
    "category": "communication",
    "min_chatapp_version": "1.0.0",
    "capabilities": [
        "messages.post",
        "messages.read",
        "channels.read",
        "members.read",
        "http.outbound",
        "commands.register",
        "events.subscribe",
    ],
    "http_domains": ["slack.com", "hooks.slack.com"],
    "settings_schema": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "signing_secret": secret("Signing secret", "From the Slack app's Basic Information page."),
            "bot_token": secret("Bot token", "xoxb-... with chat:write."),
            "incoming_webhook_url": secret("Incoming webhook URL", "https://hooks.slack.com/services/..."),
            "notify_channel": {"type": "string", "description": "Slack channel id for notifications (bot token)."},
            "mirrors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["slack_channel", "channel_id"],
                    "additionalProperties": False,
                    "properties": {"slack_channel": {"type": "string"}, "channel_id": {"type": "integer"}},
                },
            },
        },
    },
    "events": ["message.posted"],
    "contributes": {
        "slash_commands": [{"command": "/chatapp", "description": "Post to the mirrored chatapp channel"}],
        "message_actions": [],
        "inbound_urls": [
            "/hooks/slack/{token}/events/",
            "/hooks/slack/{token}/commands/",
            "/hooks/slack/{token}/interactivity/",
        ],
    },
}
