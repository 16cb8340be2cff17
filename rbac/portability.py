"""rbac's models in organization archives (accounts.services.portability.registry explains the declarations).

Access reviews stay behind: a campaign certifies who held what on this instance, at that time.
"""

from accounts.services.portability.registry import exportable
from rbac.models import Role


def _roles_match(org, rows) -> dict[int, int]:
    # Built-in roles exist once per organization (made on first use): map onto the target's own.
    built_in = dict(Role.objects.filter(organization=org, is_built_in=True).values_list("base_role", "pk"))
    return {
        row["id"]: built_in[row["base_role"]] for row in rows if row["is_built_in"] and row["base_role"] in built_in
    }


exportable(
    "rbac.Role",
    fields=("name", "description", "is_built_in", "base_role", "permissions", "created"),
    match=_roles_match,
    target_rows=lambda org: Role.objects.filter(organization=org, is_built_in=False),
    description="Built-in roles (mapped onto the target's) and custom roles with their codes.",
)
exportable(
    "rbac.Team",
    fields=("name", "description", "parent", "created"),
    refs={"parent": "rbac.team"},
)
exportable(
    "rbac.TeamMember",
    fields=("team", "user", "is_maintainer", "added"),
    refs={"team": "rbac.team", "user": "accounts.user"},
)
exportable(
    "rbac.Grant",
    fields=("role", "user", "team", "resource_type", "resource_id", "expires_at", "created_by", "created"),
    refs={"role": "rbac.role", "user": "accounts.user", "team": "rbac.team", "created_by": "accounts.user"},
    resource_refs={"resource_id": "resource_type"},
    required=("user", "team"),
    after=("chat.channel",),  # resource grants point at channels
)
exportable(
    "rbac.IdentityGroupMapping",
    fields=("provider", "group_name", "team", "role", "created"),
    refs={"team": "rbac.team", "role": "rbac.role"},
    required=("team", "role"),
)
