"""Audit events of error tracking and performance (ids 730-749)."""

from audit.registry import Category, declare

ERROR_ISSUE_RESOLVED = declare(
    730, "errors.issue.resolved", Category.USER_ACTION, "{actor} resolved error issue {target}"
)
ERROR_ISSUE_IGNORED = declare(731, "errors.issue.ignored", Category.USER_ACTION, "{actor} ignored error issue {target}")
ERROR_ISSUE_REOPENED = declare(
    732, "errors.issue.reopened", Category.USER_ACTION, "{actor} marked error issue {target} unresolved"
)
ERROR_ISSUE_REGRESSED = declare(
    733, "errors.issue.regressed", Category.SYSTEM_EVENT, "resolved error issue {target} happened again"
)
ERROR_ALERT_SENT = declare(734, "errors.alert.sent", Category.SYSTEM_EVENT, "an error alert about {target} was sent")
ERROR_ALERT_FAILED = declare(
    735, "errors.alert.failed", Category.SYSTEM_EVENT, "an error alert about {target} could not be delivered"
)
ERROR_PROJECT_CREATED = declare(
    740, "errors.project.created", Category.SECURITY, "{actor} created error project {target}"
)
ERROR_PROJECT_UPDATED = declare(
    741, "errors.project.updated", Category.SECURITY, "{actor} changed error project {target}"
)
ERROR_PROJECT_KEY_ROTATED = declare(
    742, "errors.project.key_rotated", Category.SECURITY, "{actor} rotated the DSN key of error project {target}"
)
ERROR_PROJECT_DELETED = declare(
    743, "errors.project.deleted", Category.SECURITY, "{actor} deleted error project {target}"
)
PERFORMANCE_READ_INSTANCE = declare(
    745, "performance.instance_read", Category.USER_ACTION, "{actor} read instance-wide performance or errors"
)
