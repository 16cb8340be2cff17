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


@checks.register()
def grantable_resources_exist(app_configs, **kwargs):
    """Each grantable resource type must name an installed, tenant-owned model."""
    from django.apps import apps

    from rbac.resources import GRANTABLE_RESOURCES

    errors = []
    for label in GRANTABLE_RESOURCES:
        try:
            model = apps.get_model(label)
        except LookupError:
            model = None
        if model is None or not any(field.name == "organization" for field in model._meta.fields):
            errors.append(
                checks.Error(f"Grantable resource {label!r} is not an installed tenant model", id="rbac.E002")
            )
    return errors


@checks.register(checks.Tags.database)
def stored_role_permissions_are_declared(app_configs, databases=None, **kwargs):
    """Custom roles store codes; a code that is no longer declared silently stops counting. Runs with
    `manage.py check --database default` (and before migrate), never on plain start-up."""
    if not databases:
        return []
    from django.db.utils import DatabaseError

    from rbac.models import Role

    try:
        rows = list(Role.objects.filter(is_built_in=False).values_list("organization_id", "name", "permissions"))
    except DatabaseError:  # tables not created yet
        return []
    return [
        checks.Warning(
            f"Role {name!r} of organization {org_id} refers to undeclared permission {code!r}",
            hint="Edit the role, or declare the code again.",
            id="rbac.W002",
        )
        for org_id, name, codes in rows
        for code in sorted(codes or ())
        if code not in permissions
    ]
