from django.urls import path

from audit.api import views

urlpatterns = [
    path("audit/events", views.AuditEventViewSet.as_view({"get": "list"}), name="audit-event-list"),
    path("audit/export", views.AuditEventViewSet.as_view({"get": "export"}), name="audit-export"),
    path(
        "audit/retention",
        views.RetentionViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="audit-retention",
    ),
    path("audit/checkpoints", views.CheckpointViewSet.as_view({"get": "list"}), name="audit-checkpoint-list"),
    path("audit/checkpoints/keys", views.CheckpointViewSet.as_view({"get": "keys"}), name="audit-checkpoint-keys"),
    path("audit/summary", views.AuditEventViewSet.as_view({"get": "summary"}), name="audit-summary"),
    path("audit/verify", views.AuditEventViewSet.as_view({"get": "verify"}), name="audit-verify"),
]

urlpatterns += [
    path(
        "audit/destinations/",
        views.StreamDestinationViewSet.as_view({"get": "list", "post": "create"}),
        name="audit-destination-list",
    ),
    path(
        "audit/destinations/<int:pk>/",
        views.StreamDestinationViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="audit-destination-detail",
    ),
    path(
        "audit/destinations/<int:pk>/test/",
        views.StreamDestinationViewSet.as_view({"post": "test"}),
        name="audit-destination-test",
    ),
]
