"""audit 0007 encrypts the signing secrets that 0006 stored in clear (and 0007's reverse decrypts them)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from audit.models import StreamDestination
from tests.factories import OrganizationFactory

SECRET = "a-pre-existing-signing-secret-0123456789"
BEFORE = [("audit", "0006_stream_schedule")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    return executor.loader.project_state(targets).apps if targets else None


def stored_secret(pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT signing_secret FROM audit_streamdestination WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_existing_secrets_are_encrypted_each_row_with_its_own_binding(allow_audit_flush):
    org = OrganizationFactory(slug="legacy")
    old_apps = migrate(BEFORE)
    OldDestination = old_apps.get_model("audit", "StreamDestination")
    ids = [
        OldDestination.objects.create(organization_id=org.pk, name=name, kind="webhook",
                                      url="https://siem.example/hook", plaintext_signing_secret=SECRET + name).pk
        for name in ("a", "b")
    ]  # fmt: skip
    try:
        migrate(None)
        rows = {row.pk: row for row in StreamDestination.objects.filter(pk__in=ids)}
        assert [rows[pk].signing_secret for pk in ids] == [SECRET + "a", SECRET + "b"]
        assert rows[ids[0]].encryption_id != rows[ids[1]].encryption_id  # one binding per row, not one for all
        assert all(SECRET not in stored_secret(pk) for pk in ids)

        migrate(BEFORE)  # and back: the clear-text column comes back filled
        with connection.cursor() as cursor:
            cursor.execute("SELECT plaintext_signing_secret FROM audit_streamdestination ORDER BY id")
            assert [row[0] for row in cursor.fetchall()] == [SECRET + "a", SECRET + "b"]
    finally:
        migrate(None)
