import pytest
from django.db import connection

from tests.kernel.vault import Vault


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database plus the table of the test-only Vault model."""
    with django_db_blocker.unblock(), connection.schema_editor() as editor:
        editor.create_model(Vault)
