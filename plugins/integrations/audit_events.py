from audit.registry import Category, declare

# 950-999: integrations (installations, outgoing and incoming webhooks, inbound requests from other tools).
INSTALLED = declare(950, "integrations.installed", Category.SECURITY, "{actor} installed integration {target}")
CONFIGURED = declare(951, "integrations.configured", Category.SECURITY, "{actor} configured integration {target}")
UNINSTALLED = declare(952, "integrations.uninstalled", Category.SECURITY, "{actor} uninstalled integration {target}")
ENDPOINT_CREATED = declare(
    953, "integrations.webhook.created", Category.SECURITY, "{actor} created outgoing webhook {target}"
)
ENDPOINT_UPDATED = declare(
    954, "integrations.webhook.updated", Category.SECURITY, "{actor} changed outgoing webhook {target}"
)
ENDPOINT_DELETED = declare(
    955, "integrations.webhook.deleted", Category.SECURITY, "{actor} deleted outgoing webhook {target}"
)
SECRET_ROTATED = declare(
    956, "integrations.webhook.secret_rotated", Category.SECURITY, "{actor} rotated the secret of webhook {target}"
)
ENDPOINT_TESTED = declare(
    957, "integrations.webhook.tested", Category.USER_ACTION, "{actor} sent a test event to webhook {target}"
)
REPLAYED = declare(
    958, "integrations.webhook.replayed", Category.USER_ACTION, "{actor} replayed deliveries of {target}"
)
ENDPOINT_DISABLED = declare(
    959, "integrations.webhook.auto_disabled", Category.SYSTEM_EVENT, "webhook {target} was disabled after failing"
)
INCOMING_CREATED = declare(
    960, "integrations.incoming.created", Category.SECURITY, "{actor} created incoming webhook {target}"
)
INCOMING_DELETED = declare(
    961, "integrations.incoming.deleted", Category.SECURITY, "{actor} deleted incoming webhook {target}"
)
INBOUND_REFUSED = declare(
    962, "integrations.inbound.refused", Category.SECURITY, "a request to {target} was refused (bad signature)"
)
ISSUE_CREATED = declare(
    963, "integrations.issue_created", Category.USER_ACTION, "{actor} created an issue from message {target}"
)
COMMENT_POSTED = declare(
    964, "integrations.comment_posted", Category.USER_ACTION, "{actor} posted a comment from message {target}"
)
SLACK_IMPORT_STARTED = declare(
    965, "integrations.slack.import_started", Category.DATA_CHANGE, "{actor} started Slack import {target}"
)
SLACK_IMPORT_FINISHED = declare(
    966, "integrations.slack.import_finished", Category.DATA_CHANGE, "Slack import {target} finished"
)
INBOUND_RECEIVED = declare(
    967, "integrations.inbound.received", Category.API_CALL, "{target} received an event from another tool"
)
