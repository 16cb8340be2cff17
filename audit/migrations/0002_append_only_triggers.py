"""The database itself refuses UPDATE and DELETE of audit rows (and TRUNCATE on PostgreSQL).

DELETE (and TRUNCATE) is allowed only while a row exists in audit_auditpurgepermit, which the retention purge
inserts and removes inside its own transaction; nothing else writes that table. The triggers stop mistakes and
casual edits; someone who can drop triggers is caught by the HMAC chain instead (audit_verify).
"""

from django.db import migrations

SQLITE = [
    """CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END""",
    """CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_auditevent
       WHEN NOT EXISTS (SELECT 1 FROM audit_auditpurgepermit)
       BEGIN SELECT RAISE(ABORT, 'audit events are deleted only by the retention purge'); END""",
]
SQLITE_REVERSE = ["DROP TRIGGER IF EXISTS audit_event_no_update", "DROP TRIGGER IF EXISTS audit_event_no_delete"]

POSTGRES = [
    """CREATE FUNCTION audit_event_guard() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP IN ('DELETE', 'TRUNCATE') AND EXISTS (SELECT 1 FROM audit_auditpurgepermit) THEN
           RETURN OLD;
         END IF;
         RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
           MESSAGE = 'audit events are append-only (' || TG_OP || ' refused)';
       END $$""",
    """CREATE TRIGGER audit_event_no_update_delete BEFORE UPDATE OR DELETE ON audit_auditevent
       FOR EACH ROW EXECUTE FUNCTION audit_event_guard()""",
    """CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_auditevent
       FOR EACH STATEMENT EXECUTE FUNCTION audit_event_guard()""",
]
POSTGRES_REVERSE = [
    "DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_auditevent",
    "DROP TRIGGER IF EXISTS audit_event_no_update_delete ON audit_auditevent",
    "DROP FUNCTION IF EXISTS audit_event_guard()",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRES}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRES_REVERSE}),
        )
    ]
