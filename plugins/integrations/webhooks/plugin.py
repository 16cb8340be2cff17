MANIFEST = {
    "id": "com.chatapp.webhooks",
    "name": "Webhooks",
    "version": "1.0.0",
    "publisher": "chatapp",
    "description": "Outgoing webhooks signed with Standard Webhooks, and incoming webhooks (Slack-compatible).",
    "category": "developer-tools",
    "min_chatapp_version": "1.0.0",
    "capabilities": ["messages.post", "messages.read", "channels.read", "events.subscribe", "http.outbound"],
    "http_domains": ["*"],
    "settings_schema": {"type": "object", "properties": {}, "additionalProperties": False},
    "events": ["message.posted", "channel.created", "member.joined", "audit.*"],
    "contributes": {"slash_commands": [], "message_actions": [], "inbound_urls": ["/hooks/incoming/{token}/"]},
}
