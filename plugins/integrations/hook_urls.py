"""/hooks/...: inbound URLs for other tools (mounted by chatapp/urls.py)."""

from django.urls import path

from plugins.integrations import views

urlpatterns = [
    path("incoming/<str:token>/", views.incoming_webhook, name="integrations-incoming"),
    path("<slug:integration>/<str:token>/", views.signed_webhook, name="integrations-inbound"),
]
