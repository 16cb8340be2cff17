"""/api/v1/: each app contributes its routes; organization-scoped ones sit under orgs/<org_slug>/."""

from django.urls import include, path

urlpatterns = [
    path("", include("accounts.api.urls")),
    path("orgs/<slug:org_slug>/", include("chatapp.chat.api.urls")),
    path("orgs/<slug:org_slug>/", include("audit.api.urls")),
    path("orgs/<slug:org_slug>/", include("rbac.api.urls")),
    path("instance/analytics/revenue/", include("analytics.revenue.api.urls")),
    path("orgs/<slug:org_slug>/", include("analytics.observability.api.urls")),
    path("instance/analytics/", include("analytics.observability.api.instance_urls")),
    path("orgs/<slug:org_slug>/", include("plugins.integrations.api.urls")),
    path("", include("plugins.api.urls_root")),
    path("orgs/<slug:org_slug>/", include("analytics.api.urls")),
    path("instance/analytics/", include("analytics.api.instance_urls")),
    path("orgs/<slug:org_slug>/", include("reports.api.urls")),
]
