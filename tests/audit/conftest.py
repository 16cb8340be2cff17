import pytest
from django.db import connection


@pytest.fixture
def bypass_triggers(db):
    """Switch the append-only triggers off for this test's transaction, as a database superuser could."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            cursor.execute("DROP TRIGGER audit_event_no_update")
            cursor.execute("DROP TRIGGER IF EXISTS audit_event_fixed_columns")
            cursor.execute("DROP TRIGGER audit_event_no_delete")
    yield  # the test's transaction is rolled back afterwards, which restores the triggers
