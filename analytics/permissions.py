from rbac.registry import declare

ANALYTICS_VIEW = declare(
    "analytics.view", "See the organization's usage analytics: active users, retention, features and stats."
)
ANALYTICS_MANAGE = declare("analytics.manage", "Manage analytics ingestion keys and the organization's opt-out.")
# Dashboards are grantable one by one (a team can be given one dashboard), like channels.
DASHBOARDS_VIEW = declare("dashboards.view", "See analytics dashboards and their charts.", "dashboard")
DASHBOARDS_EDIT = declare("dashboards.edit", "Create, change, duplicate and delete analytics dashboards.", "dashboard")
