"""Audit events of the plugin system (ids 900-949). Calls a plugin makes are recorded with the actor
`plugin:<id>@<version>` (actor type "plugin"); lifecycle changes with the admin who made them."""

from audit.registry import Category, declare

# Per-organization lifecycle
PLUGIN_INSTALLED = declare(900, "plugin.installed", Category.SECURITY, "{actor} installed plugin {target}")
PLUGIN_UNINSTALLED = declare(901, "plugin.uninstalled", Category.SECURITY, "{actor} uninstalled plugin {target}")
PLUGIN_CONFIGURED = declare(902, "plugin.configured", Category.DATA_CHANGE, "{actor} configured plugin {target}")
PLUGIN_ENABLED = declare(903, "plugin.enabled", Category.DATA_CHANGE, "{actor} enabled plugin {target}")
PLUGIN_DISABLED = declare(904, "plugin.disabled", Category.DATA_CHANGE, "{actor} disabled plugin {target}")
PLUGIN_AUTO_DISABLED = declare(
    905, "plugin.auto_disabled", Category.SYSTEM_EVENT, "plugin {target} was disabled after repeated failures"
)
PLUGIN_VERSION_CHANGED = declare(
    906, "plugin.version_changed", Category.SECURITY, "{actor} changed the version of plugin {target}"
)
PLUGIN_UPGRADE_PENDING = declare(
    907, "plugin.upgrade_pending", Category.SECURITY, "{actor} asked for new capabilities for plugin {target}"
)
PLUGIN_PINNED = declare(908, "plugin.pinned", Category.DATA_CHANGE, "{actor} pinned or unpinned plugin {target}")
PLUGIN_CHANNELS_GRANTED = declare(
    909, "plugin.channels_granted", Category.SECURITY, "{actor} changed the channels plugin {target} may use"
)
# What plugins do (actor plugin:<id>@<version>)
PLUGIN_API_CALL = declare(910, "plugin.api_call", Category.API_CALL, "{actor} called {target}")
PLUGIN_API_DENIED = declare(911, "plugin.api_denied", Category.SECURITY, "{actor} was refused {target}")
PLUGIN_FAILED = declare(912, "plugin.failed", Category.SYSTEM_EVENT, "{actor} failed handling {target}")
# Marketplace (platform chain unless the publisher is an organization's private one)
PUBLISHER_CREATED = declare(920, "plugin.publisher_created", Category.SECURITY, "{actor} registered publisher {target}")
PUBLISHER_KEY_ADDED = declare(
    921, "plugin.publisher_key_added", Category.SECURITY, "{actor} added a signing key to publisher {target}"
)
PUBLISHER_KEY_REVOKED = declare(
    922, "plugin.publisher_key_revoked", Category.SECURITY, "{actor} revoked a signing key of publisher {target}"
)
PACKAGE_SUBMITTED = declare(923, "plugin.package_submitted", Category.USER_ACTION, "{actor} submitted {target}")
PACKAGE_REFUSED = declare(924, "plugin.package_refused", Category.SECURITY, "{actor} had package {target} refused")
PACKAGE_SCANNED = declare(925, "plugin.package_scanned", Category.SYSTEM_EVENT, "package {target} was scanned")
PACKAGE_REVIEW_STARTED = declare(
    926, "plugin.review_started", Category.USER_ACTION, "{actor} started reviewing {target}"
)
PACKAGE_APPROVED = declare(927, "plugin.package_approved", Category.SECURITY, "{actor} approved {target}")
PACKAGE_REJECTED = declare(928, "plugin.package_rejected", Category.SECURITY, "{actor} rejected {target}")
PACKAGE_YANKED = declare(929, "plugin.package_yanked", Category.SECURITY, "{actor} yanked {target}")
LISTING_REPORTED = declare(930, "plugin.listing_reported", Category.USER_ACTION, "{actor} reported listing {target}")
LISTING_REVIEWED = declare(931, "plugin.listing_reviewed", Category.USER_ACTION, "{actor} reviewed listing {target}")
# Components
COMPONENT_SAVED = declare(940, "plugin.component_saved", Category.DATA_CHANGE, "{actor} saved component {target}")
COMPONENT_PUBLISHED = declare(
    941, "plugin.component_published", Category.USER_ACTION, "{actor} published component {target}"
)
