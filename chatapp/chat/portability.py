"""The chat core in organization archives (accounts.services.portability.registry explains the declarations).

Message bodies are exported as text whatever their storage: an encrypted field is read (decrypted) on export
and written (encrypted under the target's keys) on import. Retention runs stay behind (history of this instance).
"""

from accounts.services.portability.registry import exportable

exportable(
    "chat.Channel",
    fields=("name", "topic", "is_private", "is_archived", "created_by", "created"),
    refs={"created_by": "accounts.user"},
)
exportable(
    "chat.ChannelMember",
    fields=("channel", "user", "added"),
    refs={"channel": "chat.channel", "user": "accounts.user"},
)
exportable(
    "chat.Message",
    fields=("channel", "author", "body", "created", "edited", "deleted", "anonymized"),
    refs={"channel": "chat.channel", "author": "accounts.user"},
)
exportable(
    "chat.MessageRetentionPolicy",
    fields=("enabled", "days", "action", "updated", "updated_by"),
    refs={"updated_by": "accounts.user"},
)
exportable(
    "chat.ChannelRetentionOverride",
    fields=("channel", "days"),
    refs={"channel": "chat.channel"},
)
exportable(
    "chat.LegalHold",
    fields=("channel", "user", "reason", "created", "created_by", "released_at", "released_by"),
    refs={
        "channel": "chat.channel",
        "user": "accounts.user",
        "created_by": "accounts.user",
        "released_by": "accounts.user",
    },
    required=("channel", "user"),
)
