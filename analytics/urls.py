"""Non-API routes: the PostHog-compatible ingest and the dashboard pages."""

from django.urls import path, re_path

from analytics import ingest, views

urlpatterns = [
    re_path(r"^ingest/posthog/(?:batch|capture|e|track|engage|i/v0/e)/?$", ingest.capture, name="posthog-capture"),
    re_path(r"^ingest/posthog/(?:decide|flags)/?$", ingest.flags, name="posthog-flags"),
    path("analytics/instance/", views.instance_overview, name="analytics-instance-page"),
    path("analytics/<slug:org>/", views.org_home, name="analytics-org-page"),
    path("analytics/<slug:org>/dashboards/<int:pk>/", views.dashboard_page, name="analytics-dashboard-page"),
]
