from audit.registry import Category, declare

AUDIT_EVENTS_READ = declare(100, "audit.events_read", Category.USER_ACTION, "{actor} read the audit trail")
AUDIT_VERIFIED = declare(101, "audit.verified", Category.SECURITY, "{actor} verified the audit chain")
ACCESS_DENIED = declare(102, "access.denied", Category.SECURITY, "{actor} was refused {target}")
AUDIT_EXPORTED = declare(103, "audit.exported", Category.SECURITY, "{actor} exported the audit trail")
AUDIT_PURGED = declare(104, "audit.purged", Category.SYSTEM_EVENT, "retention purge deleted old audit events")
RETENTION_CHANGED = declare(105, "audit.retention_changed", Category.DATA_CHANGE, "{actor} changed audit retention")
API_REQUEST = declare(110, "api.request", Category.API_CALL, "{actor} called {target}")
