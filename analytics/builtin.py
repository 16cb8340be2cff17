"""The built-in dashboards: "Organization overview" (stored per organization, so it can be shared and edited)
and "Instance overview" for the operator (defined here only; every read draws it fresh)."""

ORG_OVERVIEW_KEY = "org_overview"

ORG_OVERVIEW = {
    "name": "Organization overview",
    "description": "How the organization uses chatapp: active people, messages, feature adoption and retention.",
    "tiles": [
        {"title": "Daily active users", "metric": "active_users", "chart": "number", "interval": "day"},
        {"title": "Monthly active users", "metric": "mau", "chart": "number", "interval": "day"},
        {"title": "Messages sent", "metric": "messages_sent", "chart": "number", "interval": "day"},
        {"title": "Feature adoption", "metric": "feature_adoption", "chart": "number", "interval": "week"},
        {"title": "Active users", "metric": "active_users", "chart": "line", "interval": "day"},
        {"title": "Messages by client", "metric": "messages_sent", "chart": "bar", "interval": "day",
         "breakdown": "client"},
        {"title": "People by lifecycle", "metric": "lifecycle", "chart": "bar", "interval": "week"},
        {"title": "Weekly retention", "metric": "retention", "chart": "table", "interval": "week", "range_days": 56},
    ],
}  # fmt: skip

INSTANCE_OVERVIEW = {
    "name": "Instance overview",
    "description": "Every organization together: active people, messages, events and feature adoption.",
    "default_range_days": 30,
    "tiles": [
        {"title": "Daily active users", "metric": "active_users", "chart": "number", "interval": "day"},
        {"title": "Monthly active users", "metric": "mau", "chart": "number", "interval": "day"},
        {"title": "Messages sent", "metric": "messages_sent", "chart": "number", "interval": "day"},
        {"title": "Feature adoption", "metric": "feature_adoption", "chart": "number", "interval": "week"},
        {"title": "Active users", "metric": "active_users", "chart": "line", "interval": "day"},
        {"title": "Events by name", "metric": "events", "chart": "bar", "interval": "day", "breakdown": "event"},
        {"title": "Adoption by feature", "metric": "feature_adoption", "chart": "line", "interval": "week",
         "breakdown": "feature"},
        {"title": "Stickiness", "metric": "stickiness", "chart": "line", "interval": "day"},
    ],
}  # fmt: skip
