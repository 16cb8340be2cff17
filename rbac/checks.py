from django.core import checks

from rbac.registry import permissions
from rbac.roles import BUILT_IN_ROLE_PERMISSIONS


@checks.register()
def role_permissions_are_declared(app_configs, **kwargs):
    """A role that refers to a permission code no app declares is a typo waiting to deny or allow wrongly."""
    return [
        checks.Error(
            f"Built-in role {role!r} refers to undeclared permission {code!r}",
            hint="Declare it in the owning app's permissions.py with rbac.registry.declare().",
            id="rbac.E001",
        )
        for role, codes in BUILT_IN_ROLE_PERMISSIONS.items()
        for code in sorted(codes)
        if code not in permissions
    ]
