"""Analytics audit events: ids 700-729."""

from audit.registry import Category, declare

INGEST_KEY_CREATED = declare(
    700, "analytics.ingest_key.created", Category.SECURITY, "{actor} created analytics ingestion key {target}"
)
INGEST_KEY_REVOKED = declare(
    701, "analytics.ingest_key.revoked", Category.SECURITY, "{actor} revoked analytics ingestion key {target}"
)
SETTINGS_CHANGED = declare(
    702, "analytics.settings_changed", Category.DATA_CHANGE, "{actor} changed the organization's analytics settings"
)
DASHBOARD_CREATED = declare(703, "dashboard.created", Category.DATA_CHANGE, "{actor} created dashboard {target}")
DASHBOARD_UPDATED = declare(704, "dashboard.updated", Category.DATA_CHANGE, "{actor} changed dashboard {target}")
DASHBOARD_DELETED = declare(705, "dashboard.deleted", Category.DATA_CHANGE, "{actor} deleted dashboard {target}")
DASHBOARD_DUPLICATED = declare(
    706, "dashboard.duplicated", Category.DATA_CHANGE, "{actor} duplicated a dashboard into {target}"
)
DASHBOARD_EXPORTED = declare(707, "dashboard.exported", Category.USER_ACTION, "{actor} exported dashboard {target}")
TILE_ADDED = declare(708, "dashboard.tile_added", Category.DATA_CHANGE, "{actor} added a tile to {target}")
TILE_UPDATED = declare(709, "dashboard.tile_updated", Category.DATA_CHANGE, "{actor} changed a tile of {target}")
TILE_REMOVED = declare(710, "dashboard.tile_removed", Category.DATA_CHANGE, "{actor} removed a tile from {target}")
STATS_BACKFILLED = declare(
    711, "analytics.stats_backfilled", Category.SYSTEM_EVENT, "{actor} recomputed analytics rollups"
)
EVENTS_PURGED = declare(
    712, "analytics.events_purged", Category.SYSTEM_EVENT, "raw analytics events past retention were dropped"
)
EVENTS_ERASED = declare(
    713, "analytics.events_erased", Category.SECURITY, "{actor} pseudonymized the analytics events of {target}"
)
