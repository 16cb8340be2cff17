"""The events list's filter indexes end with id (newest first), and category gets one.

Built with CREATE INDEX CONCURRENTLY on PostgreSQL, so a large audit table keeps taking writes meanwhile (the
migration is not atomic for that reason); other databases build them plainly.
"""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class OnPostgresConcurrently:
    """CONCURRENTLY on PostgreSQL, the plain operation elsewhere (SQLite has no such option)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return self.plain.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return self.plain.database_backwards(self, app_label, schema_editor, from_state, to_state)


class AddIndex(OnPostgresConcurrently, AddIndexConcurrently):
    plain = migrations.AddIndex


class RemoveIndex(OnPostgresConcurrently, RemoveIndexConcurrently):
    plain = migrations.RemoveIndex


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("audit", "0007_encrypt_stream_secret")]
    operations = [
        AddIndex("auditevent", models.Index(fields=["organization", "event_name", "id"], name="audit_org_event_id")),
        AddIndex("auditevent", models.Index(fields=["organization", "category", "id"], name="audit_org_category_id")),
        AddIndex(
            "auditevent",
            models.Index(fields=["organization", "actor_type", "actor_id", "id"], name="audit_org_actor_id"),
        ),
        AddIndex(
            "auditevent",
            models.Index(fields=["organization", "target_type", "target_id", "id"], name="audit_org_target_id"),
        ),
        RemoveIndex("auditevent", "audit_org_event"),
        RemoveIndex("auditevent", "audit_org_actor"),
        RemoveIndex("auditevent", "audit_org_target"),
    ]
