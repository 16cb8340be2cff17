"""/api/v1/orgs/<org_slug>/analytics/errors/... and .../analytics/performance/..."""

from django.urls import path

from analytics.observability.api import views

issues = views.ErrorIssueViewSet
projects = views.ErrorProjectViewSet
performance = views.PerformanceViewSet

urlpatterns = [
    path("analytics/errors/", issues.as_view({"get": "list"}), name="error-issue-list"),
    path("analytics/errors/<int:pk>/", issues.as_view({"get": "retrieve"}), name="error-issue-detail"),
    path("analytics/errors/<int:pk>/resolve", issues.as_view({"post": "resolve"}), name="error-issue-resolve"),
    path("analytics/errors/<int:pk>/ignore", issues.as_view({"post": "ignore"}), name="error-issue-ignore"),
    path("analytics/errors/<int:pk>/unresolve", issues.as_view({"post": "unresolve"}), name="error-issue-unresolve"),
    path("analytics/errors/projects/", projects.as_view({"get": "list", "post": "create"}), name="error-project-list"),
    path(
        "analytics/errors/projects/<int:pk>/",
        projects.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="error-project-detail",
    ),
    path(
        "analytics/errors/projects/<int:pk>/rotate-key",
        projects.as_view({"post": "rotate_key"}),
        name="error-project-rotate-key",
    ),
    path("analytics/performance/endpoints", performance.as_view({"get": "endpoints"}), name="performance-endpoints"),
    path("analytics/performance/series", performance.as_view({"get": "series"}), name="performance-series"),
    path("analytics/performance/slo", performance.as_view({"get": "slo"}), name="performance-slo"),
]
