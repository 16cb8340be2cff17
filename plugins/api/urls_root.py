"""Mounted once at /api/v1/: the organization routes and the marketplace."""

from django.urls import include, path

from plugins.api.urls import marketplace_urlpatterns, org_urlpatterns

urlpatterns = [
    path("orgs/<slug:org_slug>/", include(org_urlpatterns)),
    path("marketplace/", include(marketplace_urlpatterns)),
]
