"""rbac's audit events (ids 400-419 are rbac's). Collected by the audit app at start-up."""

from audit.registry import Category, declare

ROLE_CREATED = declare(400, "rbac.role.created", Category.DATA_CHANGE, "{actor} created role {target}")
ROLE_UPDATED = declare(401, "rbac.role.updated", Category.DATA_CHANGE, "{actor} changed role {target}")
ROLE_DELETED = declare(402, "rbac.role.deleted", Category.DATA_CHANGE, "{actor} deleted role {target}")
TEAM_CREATED = declare(403, "rbac.team.created", Category.DATA_CHANGE, "{actor} created team {target}")
TEAM_UPDATED = declare(404, "rbac.team.updated", Category.DATA_CHANGE, "{actor} changed team {target}")
TEAM_DELETED = declare(405, "rbac.team.deleted", Category.DATA_CHANGE, "{actor} deleted team {target}")
TEAM_MEMBER_ADDED = declare(406, "rbac.team_member.added", Category.DATA_CHANGE, "{actor} added {target}")
TEAM_MEMBER_UPDATED = declare(407, "rbac.team_member.updated", Category.DATA_CHANGE, "{actor} changed {target}")
TEAM_MEMBER_REMOVED = declare(
    408, "rbac.team_member.removed", Category.DATA_CHANGE, "{actor} removed someone from team {target}"
)
GRANT_CREATED = declare(409, "rbac.grant.created", Category.SECURITY, "{actor} granted {target}")
GRANT_REVOKED = declare(410, "rbac.grant.revoked", Category.SECURITY, "{actor} revoked {target}")
GRANT_EXPIRED = declare(411, "rbac.grant.expired", Category.SECURITY, "{target} expired")
MAPPING_CREATED = declare(412, "rbac.mapping.created", Category.SECURITY, "{actor} mapped identity group {target}")
MAPPING_DELETED = declare(
    413, "rbac.mapping.deleted", Category.SECURITY, "{actor} removed the mapping of identity group {target}"
)

# Explain / what-if / access reviews: ids 420-469.
REVIEW_CREATED = declare(420, "rbac.review.created", Category.DATA_CHANGE, "{actor} created access review {target}")
REVIEW_UPDATED = declare(421, "rbac.review.updated", Category.DATA_CHANGE, "{actor} changed access review {target}")
REVIEW_DELETED = declare(422, "rbac.review.deleted", Category.DATA_CHANGE, "{actor} deleted access review {target}")
REVIEW_OPENED = declare(423, "rbac.review.opened", Category.SECURITY, "{actor} opened access review {target}")
REVIEW_CLOSED = declare(424, "rbac.review.closed", Category.SECURITY, "{actor} closed access review {target}")
REVIEW_ITEM_DECIDED = declare(
    425, "rbac.review.item_decided", Category.SECURITY, "{actor} decided access-review item {target}"
)
REVIEW_ITEM_APPLIED = declare(
    426, "rbac.review.item_applied", Category.SECURITY, "{actor} applied the decision on access-review item {target}"
)
REVIEW_REMINDED = declare(
    427, "rbac.review.reminded", Category.SYSTEM_EVENT, "Reviewers of access review {target} were reminded"
)
