from plugins.integrations.schemas import routes, secret

EVENTS = [
    "push", "pull_request", "pull_request_review", "issues", "issue_comment", "release", "workflow_run", "ping",
]  # fmt: skip

MANIFEST = {
    "id": "com.chatapp.github",
    "name": "GitHub",
    "version": "1.0.0",
    "publisher": "chatapp",
    "description": "Pushes, pull requests, issues, comments, releases and workflow runs in your channels; "
    "create GitHub issues and comments from messages.",
    "category": "engineering",
    "min_chatapp_version": "1.0.0",
    "capabilities": ["messages.post", "messages.read", "channels.read", "http.outbound", "actions.register"],
    "http_domains": ["api.github.com"],
    "settings_schema": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "webhook_secret": secret("Webhook secret", "The secret set on the GitHub webhook (X-Hub-Signature-256)."),
            "token": secret("Access token", "A fine-grained token with Issues: read and write."),
            "api_url": {"type": "string", "format": "uri", "default": "https://api.github.com"},
            "default_repository": {"type": "string", "pattern": "^[^/\\s]+/[^/\\s]+$"},
            "routes": routes(EVENTS, "repositories", "owner/name; empty: every repository."),
        },
    },
    "events": [],
    "contributes": {
        "slash_commands": [],
        "message_actions": [{"id": "github.create_issue", "title": "Create GitHub issue"}],
        "inbound_urls": ["/hooks/github/{token}/"],
        "link_previews": ["https://github.com/*/*/issues/*", "https://github.com/*/*/pull/*"],
    },
}
