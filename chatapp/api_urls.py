"""/api/v1/: each app contributes its routes; organization-scoped ones sit under orgs/<org_slug>/."""

from django.urls import include, path

urlpatterns = [
    path("", include("accounts.api.urls")),
    path("orgs/<slug:org_slug>/", include("chatapp.chat.api.urls")),
    path("orgs/<slug:org_slug>/", include("audit.api.urls")),
    path("orgs/<slug:org_slug>/", include("rbac.api.urls")),
    path("orgs/<slug:org_slug>/", include("reports.api.urls")),
]
