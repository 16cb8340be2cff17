from audit.registry import Category, declare

AUDIT_EVENTS_READ = declare(100, "audit.events_read", Category.USER_ACTION, "{actor} read the audit trail")
AUDIT_VERIFIED = declare(101, "audit.verified", Category.SECURITY, "{actor} verified the audit chain")
ACCESS_DENIED = declare(102, "access.denied", Category.SECURITY, "{actor} was refused {target}")
AUDIT_EXPORTED = declare(103, "audit.exported", Category.SECURITY, "{actor} exported the audit trail")
AUDIT_PURGED = declare(104, "audit.purged", Category.SYSTEM_EVENT, "retention purge deleted old audit events")
RETENTION_CHANGED = declare(105, "audit.retention_changed", Category.DATA_CHANGE, "{actor} changed audit retention")
API_REQUEST = declare(110, "api.request", Category.API_CALL, "{actor} called {target}")
STREAM_CREATED = declare(120, "audit.stream.created", Category.SECURITY, "{actor} created audit stream {target}")
STREAM_UPDATED = declare(121, "audit.stream.updated", Category.SECURITY, "{actor} changed audit stream {target}")
STREAM_DELETED = declare(122, "audit.stream.deleted", Category.SECURITY, "{actor} deleted audit stream {target}")
STREAM_TESTED = declare(
    123, "audit.stream.tested", Category.USER_ACTION, "{actor} sent a test to audit stream {target}"
)
STREAM_FAILING = declare(124, "audit.stream.failing", Category.SYSTEM_EVENT, "audit stream {target} stopped delivering")
STREAM_RECOVERED = declare(125, "audit.stream.recovered", Category.SYSTEM_EVENT, "audit stream {target} delivers again")
# 479: from the data-protection range (460-479), the audit side of a data-subject erasure (audit/redaction.py).
AUDIT_REDACTED = declare(
    479, "audit.redacted", Category.SECURITY, "{actor} redacted the personal data of {target} from audit events"
)
