from rbac.registry import declare

CHANNELS_VIEW = declare("channels.view", "See public channels and read their messages.", "channel")
CHANNELS_VIEW_PRIVATE = declare(
    "channels.view_private", "See every private channel of the organization (not its messages).", "channel"
)
CHANNELS_CREATE = declare("channels.create", "Create channels.", "channel")
CHANNELS_MANAGE = declare("channels.manage", "Rename, archive and change the members of any channel.", "channel")
MESSAGES_POST = declare("messages.post", "Post messages in channels one belongs to.", "channel")
MESSAGES_DELETE_ANY = declare("messages.delete_any", "Delete anyone's messages.", "channel")
# Retention has codes of its own rather than org.manage: a compliance officer can be granted legal holds and
# retention without also getting SSO and the organization's other policies.
RETENTION_VIEW = declare("retention.view", "See message retention, its preview, legal holds and runs.")
RETENTION_MANAGE = declare("retention.manage", "Change message retention and place or release legal holds.")
