"""Pages of reports outside the API: one-click unsubscribe and e-mailed download links (no login)."""

from django.urls import path

from reports import builder, views

app_name = "reports"

urlpatterns = [
    path("unsubscribe/<str:token>", views.unsubscribe_view, name="unsubscribe"),
    path("download/<str:token>", views.download_view, name="download"),
    path("<slug:org>/builder/", builder.builder, name="builder"),
    path("<slug:org>/builder/<int:pk>/", builder.builder, name="builder-edit"),
]
