"""Who may see and change the instance's revenue: Django permissions, not organization roles.

Revenue belongs to the operator of the instance, above every organization, and rbac is organization-scoped by
design (a grant never reaches outside its organization). So the two codes are Django permissions of this app,
held by superusers implicitly and given to other staff in Admin → Users or Groups (docs/revenue.md):

- `revenue.read`: the API under /api/v1/instance/analytics/revenue/ and the admin screens, read-only;
- `revenue.manage`: plans, exchange rates, customer links, CSV imports, reprocessing webhook events.
"""

from django.core.exceptions import PermissionDenied

READ = "revenue.read"
MANAGE = "revenue.manage"


def _holds(user, code: str) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_superuser or user.has_perm(code)


def can_read(user) -> bool:
    return _holds(user, READ) or _holds(user, MANAGE)


def can_manage(user) -> bool:
    return _holds(user, MANAGE)


def require_manage(actor) -> None:
    """Services that change revenue data call this; `None` or a system `Actor` is the system (webhooks,
    management commands run by someone with shell access)."""
    from audit.services import Actor

    if actor is None or isinstance(actor, Actor):
        return
    if not can_manage(actor):
        raise PermissionDenied(f"You need the '{MANAGE}' permission to change revenue data.")
