from django.urls import path

from reports.api import views

reports = views.ReportViewSet
runs = views.RunViewSet
schedules = views.ScheduleViewSet
triggers = views.TriggerViewSet

urlpatterns = [
    path("reports/", reports.as_view({"get": "list", "post": "create"}), name="report-list"),
    path("reports/<int:pk>/", reports.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
         name="report-detail"),
    path("reports/<int:pk>/runs", reports.as_view({"post": "runs"}), name="report-runs"),
    path("report-runs/", runs.as_view({"get": "list"}), name="report-run-list"),
    path("report-runs/<int:pk>/", runs.as_view({"get": "retrieve"}), name="report-run-detail"),
    path("report-runs/<int:pk>/download", runs.as_view({"get": "download"}), name="report-run-download"),
    path("report-runs/<int:pk>/tables/<str:name>", runs.as_view({"get": "table"}),
         name="report-run-table"),
    path("report-schedules/", schedules.as_view({"get": "list", "post": "create"}), name="report-schedule-list"),
    path("report-schedules/<int:pk>/",
         schedules.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
         name="report-schedule-detail"),
    path("report-schedules/<int:pk>/preview", schedules.as_view({"get": "preview"}), name="report-schedule-preview"),
    path("report-schedules/<int:pk>/test", schedules.as_view({"post": "test"}), name="report-schedule-test"),
    path("report-triggers/", triggers.as_view({"get": "list", "post": "create"}), name="report-trigger-list"),
    path("report-triggers/<int:pk>/",
         triggers.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
         name="report-trigger-detail"),
    path("report-deliveries/", views.DeliveryViewSet.as_view({"get": "list"}), name="report-delivery-list"),
    path("report-deliveries/<int:pk>/", views.DeliveryViewSet.as_view({"get": "retrieve"}),
         name="report-delivery-detail"),
]  # fmt: skip
