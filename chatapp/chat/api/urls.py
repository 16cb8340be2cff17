from django.urls import path

from chatapp.chat.api import views

channels = views.ChannelViewSet
members = views.ChannelMemberViewSet
messages = views.MessageViewSet

urlpatterns = [
    path("channels/", channels.as_view({"get": "list", "post": "create"}), name="channel-list"),
    path("channels/<int:pk>/", channels.as_view({"get": "retrieve", "patch": "partial_update"}), name="channel-detail"),
    path("channels/<int:pk>/archive", channels.as_view({"post": "archive"}), name="channel-archive"),
    path("channels/<int:pk>/unarchive", channels.as_view({"post": "unarchive"}), name="channel-unarchive"),
    path(
        "channels/<int:channel_pk>/members/",
        members.as_view({"get": "list", "post": "create"}),
        name="channel-member-list",
    ),
    path(
        "channels/<int:channel_pk>/members/<int:user_id>/",
        members.as_view({"delete": "destroy"}),
        name="channel-member-detail",
    ),
    path(
        "channels/<int:channel_pk>/messages/",
        views.ChannelMessageViewSet.as_view({"get": "list", "post": "create"}),
        name="channel-message-list",
    ),
    path("messages/search", messages.as_view({"get": "search"}), name="message-search"),
    path(
        "messages/<int:pk>/",
        messages.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="message-detail",
    ),
]

urlpatterns += [
    path(
        "retention/policy",
        views.RetentionPolicyViewSet.as_view({"get": "retrieve", "put": "update"}),
        name="retention-policy",
    ),
    path("retention/preview", views.RetentionPolicyViewSet.as_view({"post": "preview"}), name="retention-preview"),
    path("retention/holds/", views.LegalHoldViewSet.as_view({"get": "list", "post": "create"}), name="legal-hold-list"),
    path("retention/holds/<int:pk>/", views.LegalHoldViewSet.as_view({"get": "retrieve"}), name="legal-hold-detail"),
    path(
        "retention/holds/<int:pk>/release",
        views.LegalHoldViewSet.as_view({"post": "release"}),
        name="legal-hold-release",
    ),
    path("retention/runs/", views.RetentionRunViewSet.as_view({"get": "list"}), name="retention-run-list"),
]
