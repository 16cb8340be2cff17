"""Audit events of LDAP / Active Directory connections (ids 390-399; the core's sso.* events cover logins).

Imported by accounts.sso.ldap, itself imported in accounts' ready() before the audit catalogue closes.
The bind password never appears in these events: metadata carries counts, reasons and server messages only.
"""

from audit.registry import Category, declare

LDAP_CONNECTION_TESTED = declare(
    390, "ldap.connection_tested", Category.SYSTEM_EVENT, "{actor} tested the directory connection of {target}"
)
LDAP_SYNC_COMPLETED = declare(391, "ldap.sync_completed", Category.SYSTEM_EVENT, "directory sync of {target} completed")
LDAP_SYNC_FAILED = declare(
    392, "ldap.sync_failed", Category.SYSTEM_EVENT, "directory sync of {target} stopped: the directory failed"
)
