"""The one place that decides whether a user may do something in an organization, and rbac's writes.

Evaluation (`has_perm`, `require_perm`, `visible`, `permissions_of`) lives in rbac.services.access and is
re-exported here, so `from rbac.services import has_perm` works everywhere. The writes are in
rbac.services.roles, rbac.services.teams and rbac.services.grants.
"""

from rbac.services._common import require_held
from rbac.services.access import (
    forget_access,
    granted_ids,
    granted_resources,
    has_perm,
    limit_to,
    membership_of,
    permissions_of,
    remember_membership,
    require_perm,
    resource_grants_of,
    team_ids_of,
    visible,
)

__all__ = [
    "forget_access",
    "granted_ids",
    "granted_resources",
    "has_perm",
    "limit_to",
    "membership_of",
    "permissions_of",
    "remember_membership",
    "require_held",
    "require_perm",
    "resource_grants_of",
    "team_ids_of",
    "visible",
]
