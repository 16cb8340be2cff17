"""/hooks/...: inbound URLs for other tools (mounted by chatapp/urls.py)."""

from django.urls import path

from plugins.integrations import views

urlpatterns = [
    path("incoming/<str:token>/", views.incoming_webhook, name="integrations-incoming"),
    path("slack/<str:token>/events/", views.slack_events, name="integrations-slack-events"),
    path("slack/<str:token>/commands/", views.slack_commands, name="integrations-slack-commands"),
    path("slack/<str:token>/interactivity/", views.slack_interactivity, name="integrations-slack-interactivity"),
    path("teams/<str:token>/", views.teams_outgoing, name="integrations-teams"),
    path("<slug:integration>/<str:token>/", views.signed_webhook, name="integrations-inbound"),
]
