from django.urls import path

from audit.api import views

urlpatterns = [
    path("audit/events", views.AuditEventViewSet.as_view({"get": "list"}), name="audit-event-list"),
    path("audit/export", views.AuditEventViewSet.as_view({"get": "export"}), name="audit-export"),
    path("audit/verify", views.AuditEventViewSet.as_view({"get": "verify"}), name="audit-verify"),
]
