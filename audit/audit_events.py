from audit.registry import Category, declare

AUDIT_EVENTS_READ = declare(100, "audit.events_read", Category.USER_ACTION, "{actor} read the audit trail")
AUDIT_VERIFIED = declare(101, "audit.verified", Category.SECURITY, "{actor} verified the audit chain")
ACCESS_DENIED = declare(102, "access.denied", Category.SECURITY, "{actor} was refused {target}")
AUDIT_EXPORTED = declare(103, "audit.exported", Category.SECURITY, "{actor} exported the audit trail")
