"""/api/v1/instance/analytics/...: the operator's instance-wide performance and server errors (superusers)."""

from django.urls import path

from analytics.observability.api import views

performance = views.InstancePerformanceViewSet
issues = views.InstanceErrorIssueViewSet

urlpatterns = [
    path("performance/endpoints", performance.as_view({"get": "endpoints"}), name="instance-performance-endpoints"),
    path("performance/series", performance.as_view({"get": "series"}), name="instance-performance-series"),
    path("performance/slo", performance.as_view({"get": "slo"}), name="instance-performance-slo"),
    path("performance/tasks", performance.as_view({"get": "tasks"}), name="instance-performance-tasks"),
    path("errors/", issues.as_view({"get": "list"}), name="instance-error-issue-list"),
    path("errors/<int:pk>/", issues.as_view({"get": "retrieve"}), name="instance-error-issue-detail"),
    path("errors/<int:pk>/resolve", issues.as_view({"post": "resolve"}), name="instance-error-issue-resolve"),
    path("errors/<int:pk>/ignore", issues.as_view({"post": "ignore"}), name="instance-error-issue-ignore"),
    path("errors/<int:pk>/unresolve", issues.as_view({"post": "unresolve"}), name="instance-error-issue-unresolve"),
]
