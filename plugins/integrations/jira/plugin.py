from plugins.integrations.schemas import routes, secret

EVENTS = [
    "jira:issue_created", "jira:issue_updated", "jira:issue_deleted", "comment_created", "comment_updated",
    "issue_transitioned",
]  # fmt: skip

MANIFEST = {
    "id": "com.chatapp.jira",
    "name": "Jira",
    "version": "1.0.0",
    "publisher": "chatapp",
    "description": "Jira issues created, updated, transitioned and commented in your channels; create Jira issues "
    "and comments from messages.",
    "category": "project-management",
    "min_chatapp_version": "1.0.0",
    "capabilities": ["messages.post", "messages.read", "channels.read", "http.outbound", "actions.register"],
    "http_domains": ["*.atlassian.net"],
    "settings_schema": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "site_url": {"type": "string", "format": "uri", "description": "https://your-site.atlassian.net"},
            "email": {"type": "string", "description": "The Atlassian account the API token belongs to."},
            "api_token": secret("API token"),
            "webhook_secret": secret("Webhook secret", "Set on the Jira admin webhook (X-Hub-Signature)."),
            "default_project": {"type": "string", "minLength": 1},
            "routes": routes(EVENTS, "projects", "Project keys; empty: every project."),
        },
    },
    "events": [],
    "contributes": {
        "slash_commands": [],
        "message_actions": [{"id": "jira.create_issue", "title": "Create Jira issue"}],
        "inbound_urls": ["/hooks/jira/{token}/"],
    },
}
