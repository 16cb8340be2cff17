from plugins.integrations.schemas import routes, secret

EVENTS = ["push", "tag_push", "merge_request", "issue", "note", "pipeline", "release"]

MANIFEST = {
    "id": "com.chatapp.gitlab",
    "name": "GitLab",
    "version": "1.0.0",
    "publisher": "chatapp",
    "description": "Pushes, merge requests, issues, comments, pipelines and releases in your channels; create "
    "GitLab issues and comments from messages.",
    "category": "engineering",
    "min_chatapp_version": "1.0.0",
    "capabilities": ["messages.post", "messages.read", "channels.read", "http.outbound", "actions.register"],
    "http_domains": ["gitlab.com"],
    "settings_schema": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "webhook_token": secret("Secret token", "The secret token set on the GitLab webhook (X-Gitlab-Token)."),
            "token": secret("Access token", "A project or personal access token with the api scope."),
            "api_url": {"type": "string", "format": "uri", "default": "https://gitlab.com/api/v4"},
            "default_project": {"type": "string", "minLength": 1},
            "routes": routes(EVENTS, "projects", "group/project paths; empty: every project."),
        },
    },
    "events": [],
    "contributes": {
        "slash_commands": [],
        "message_actions": [{"id": "gitlab.create_issue", "title": "Create GitLab issue"}],
        "inbound_urls": ["/hooks/gitlab/{token}/"],
        "link_previews": ["https://gitlab.com/*/-/issues/*", "https://gitlab.com/*/-/merge_requests/*"],
    },
}
