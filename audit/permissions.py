from rbac.registry import declare

AUDIT_READ = declare("audit.read", "Read, verify and export the organization's audit trail.")
