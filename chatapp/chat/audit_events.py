from audit.registry import Category, declare

CHANNEL_CREATED = declare(200, "channel.created", Category.DATA_CHANGE, "{actor} created channel {target}")
CHANNEL_UPDATED = declare(201, "channel.updated", Category.DATA_CHANGE, "{actor} changed channel {target}")
CHANNEL_ARCHIVED = declare(202, "channel.archived", Category.DATA_CHANGE, "{actor} archived channel {target}")
CHANNEL_UNARCHIVED = declare(203, "channel.unarchived", Category.DATA_CHANGE, "{actor} unarchived channel {target}")
CHANNEL_MEMBER_ADDED = declare(
    204, "channel.member_added", Category.DATA_CHANGE, "{actor} added someone to channel {target}"
)
CHANNEL_MEMBER_REMOVED = declare(
    205, "channel.member_removed", Category.DATA_CHANGE, "{actor} removed someone from channel {target}"
)
MESSAGE_POSTED = declare(210, "message.posted", Category.USER_ACTION, "{actor} posted message {target}")
MESSAGE_EDITED = declare(211, "message.edited", Category.DATA_CHANGE, "{actor} edited message {target}")
MESSAGE_DELETED = declare(212, "message.deleted", Category.DATA_CHANGE, "{actor} deleted message {target}")
# Message retention (chatapp.chat.retention): policy and hold changes carry before/after, runs their counts.
RETENTION_POLICY_CHANGED = declare(
    213, "retention.policy_changed", Category.DATA_CHANGE, "{actor} changed message retention"
)
LEGAL_HOLD_PLACED = declare(214, "retention.hold_placed", Category.DATA_CHANGE, "{actor} placed legal hold {target}")
LEGAL_HOLD_RELEASED = declare(
    215, "retention.hold_released", Category.DATA_CHANGE, "{actor} released legal hold {target}"
)
RETENTION_RUN_FINISHED = declare(
    216, "retention.run_finished", Category.SYSTEM_EVENT, "message retention run {target} finished"
)
