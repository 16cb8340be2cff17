"""The registry, the permission catalogue's system check, and the tenant-scoped API base class."""

import pytest
from django.core import checks

from chatapp.kernel.api import OrgScopedViewSet
from chatapp.kernel.registry import Registry, RegistryError
from rbac import roles
from rbac.registry import Permission, permissions


def test_registry_refuses_duplicates_and_late_entries():
    registry = Registry("widget")
    registry.register(Permission("a.one", "first"))
    with pytest.raises(RegistryError, match="declared twice"):
        registry.register(Permission("a.one", "again"))
    registry.freeze()
    with pytest.raises(RegistryError, match="after start-up"):
        registry.register(Permission("a.two", "late"))
    with pytest.raises(RegistryError, match="unknown widget"):
        registry["a.three"]
    assert [entry.key for entry in registry] == ["a.one"]


def test_permission_catalogue_is_closed_after_startup():
    assert "channels.create" in permissions
    with pytest.raises(RegistryError):
        permissions.register(Permission("channels.fly", "late"))


def test_system_check_catches_a_role_referring_to_an_undeclared_permission(monkeypatch):
    assert not [e for e in checks.run_checks() if e.id == "rbac.E001"]
    broken = {**roles.BUILT_IN_ROLE_PERMISSIONS, "member": frozenset({"channels.view", "channels.teleport"})}
    monkeypatch.setattr("rbac.checks.BUILT_IN_ROLE_PERMISSIONS", broken)
    errors = [e for e in checks.run_checks() if e.id == "rbac.E001"]
    assert len(errors) == 1
    assert "channels.teleport" in errors[0].msg


def test_org_scoped_views_cannot_override_get_queryset():
    with pytest.raises(TypeError, match="scoped_queryset"):

        class Leaky(OrgScopedViewSet):
            def get_queryset(self):
                return None
