"""The permission registry's system checks, the catalogue command and docs/rbac.md."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from rbac import checks
from rbac.catalogue import BEGIN, END, catalogue_markdown
from rbac.models import Role


def test_the_project_passes_the_checks():
    assert checks.role_permissions_are_declared(None) == []
    assert checks.grantable_resources_exist(None) == []


def test_a_built_in_role_with_an_undeclared_code_fails_the_check(monkeypatch):
    broken = {**checks.BUILT_IN_ROLE_PERMISSIONS, "auditor": frozenset({"org.view", "audit.raed"})}
    monkeypatch.setattr(checks, "BUILT_IN_ROLE_PERMISSIONS", broken)
    errors = checks.role_permissions_are_declared(None)
    assert [(error.id, "audit.raed" in error.msg) for error in errors] == [("rbac.E001", True)]


def test_an_undeclared_grantable_resource_fails_the_check(monkeypatch):
    from rbac import resources

    monkeypatch.setitem(resources.GRANTABLE_RESOURCES, "chat.nothing", "nothing")
    assert [error.id for error in checks.grantable_resources_exist(None)] == ["rbac.E002"]


@pytest.mark.django_db
def test_a_stored_role_with_an_undeclared_code_warns(acme):
    Role.objects.create(organization=acme.org, name="Old", permissions=["channels.view", "gone.away"])
    warnings = checks.stored_role_permissions_are_declared(None, databases=["default"])
    assert [warning.id for warning in warnings] == ["rbac.W002"]
    assert checks.stored_role_permissions_are_declared(None) == []  # no database: not run


def test_catalogue_command_prints_markdown():
    out = StringIO()
    call_command("rbac_catalogue", stdout=out)
    text = out.getvalue()
    assert "| `audit.read` |" in text and "| Auditor | `auditor` |" in text


def test_docs_embed_the_current_catalogue():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "rbac.md").read_text()
    embedded = docs[docs.index(BEGIN) : docs.index(END) + len(END)]
    assert embedded == catalogue_markdown(), "run `manage.py rbac_catalogue` and paste its output into docs/rbac.md"
