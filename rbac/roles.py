"""What each built-in role may do: the single source of the built-in permission sets.

Every organization has one Role row per built-in key (created by `rbac.services.roles_ensure_built_in`); those
rows are neither editable nor deletable, and evaluation always reads the sets below, never a stored copy, so a
change here reaches every organization at the next deploy. A membership's base role is one of these keys; the
same roles can also be granted to users and teams, org-wide or on one resource. `manage.py rbac_catalogue`
prints the table that docs/rbac.md shows.
"""

OWNER = "owner"
ADMIN = "admin"
MEMBER = "member"
GUEST = "guest"
AUDITOR = "auditor"
BILLING = "billing"

_MEMBER = {
    "org.view",
    "members.view",
    "channels.view",
    "channels.create",
    "messages.post",
}
_GUEST = {"org.view", "members.view", "messages.post"}  # guests see only the channels they were added to
_ADMIN = _MEMBER | {
    "channels.manage",
    "channels.view_private",
    "messages.delete_any",
    "members.manage",
    "members.invite",
    "roles.manage",
    "teams.manage",
    "api_keys.manage",
    "audit.read",
    "retention.view",
    "errors.view",
    "errors.manage",
    "performance.view",
    "plugins.view",
    "plugins.manage",
    "plugins.publish",
    "reports.view",
    "reports.manage",
}
_ADMIN |= {"analytics.view", "analytics.manage", "dashboards.view", "dashboards.edit"}  # analytics
_OWNER = _ADMIN | {"org.manage", "sso.manage", "billing.manage", "retention.manage"}
_OWNER |= {"org.export"}  # portability: the whole organization in one file
_AUDITOR = {"org.view", "members.view", "channels.view", "audit.read", "retention.view"}
_BILLING = {"org.view", "members.view", "billing.manage"}

BUILT_IN_ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    OWNER: frozenset(_OWNER),
    ADMIN: frozenset(_ADMIN),
    MEMBER: frozenset(_MEMBER),
    GUEST: frozenset(_GUEST),
    AUDITOR: frozenset(_AUDITOR),
    BILLING: frozenset(_BILLING),
}

# Display name and one-line purpose of each built-in role, in the order the admin and the docs list them.
BUILT_IN_ROLES: dict[str, tuple[str, str]] = {
    OWNER: ("Owner", "Everything, including the organization's policies, SSO and billing."),
    ADMIN: ("Admin", "Runs the organization day to day: members, channels, roles, teams, API keys."),
    MEMBER: ("Member", "Takes part: sees public channels, creates channels, posts."),
    GUEST: ("Guest", "Sees only the channels they were added to."),
    AUDITOR: ("Auditor", "Read-only oversight: members, public channels and the audit trail."),
    BILLING: ("Billing", "Manages the plan and invoices; sees nothing of the conversations."),
}
