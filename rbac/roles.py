"""What each built-in base role may do. Listed by code so that the system check can verify every code.

The RBAC issue adds custom roles, teams and resource-level grants behind the same `has_perm` interface.
"""

from accounts.models import Membership

Role = Membership.Role

_MEMBER = {
    "org.view",
    "members.view",
    "channels.view",
    "channels.create",
    "messages.post",
}
_GUEST = {"org.view", "members.view", "messages.post"}  # guests see only the channels they were added to
_ADMIN = _MEMBER | {"channels.manage", "channels.view_private", "messages.delete_any", "members.manage"}
_OWNER = _ADMIN | {"org.manage"}

BUILT_IN_ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(_OWNER),
    Role.ADMIN: frozenset(_ADMIN),
    Role.MEMBER: frozenset(_MEMBER),
    Role.GUEST: frozenset(_GUEST),
}
