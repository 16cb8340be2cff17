from django.urls import path

from accounts.api import api_keys, sessions, views

api_key_list = api_keys.ApiKeyViewSet.as_view({"get": "list", "post": "create"})
api_key_detail = api_keys.ApiKeyViewSet.as_view({"get": "retrieve", "delete": "destroy"})
api_key_rotate = api_keys.ApiKeyViewSet.as_view({"post": "rotate"})
service_accounts = api_keys.ServiceAccountViewSet.as_view({"get": "list", "post": "create"})
member_sessions = sessions.MemberSessionsViewSet.as_view({"delete": "destroy"})

urlpatterns = [
    path("me", views.MeView.as_view(), name="me"),
    path("me/api-keys", api_keys.MyApiKeysView.as_view(), name="me-api-keys"),
    path("me/sessions", sessions.MySessionsView.as_view(), name="me-sessions"),
    path("me/sessions/revoke-others", sessions.RevokeOtherSessionsView.as_view(), name="me-sessions-revoke-others"),
    path("me/sessions/<int:pk>", sessions.MySessionView.as_view(), name="me-session-detail"),
    path("auth/session", views.SessionView.as_view(), name="auth-session"),
    path("orgs/<slug:org_slug>/members/", views.MemberViewSet.as_view({"get": "list"}), name="member-list"),
    path("orgs/<slug:org_slug>/members/<int:user_id>/sessions", member_sessions, name="member-sessions"),
    path("orgs/<slug:org_slug>/api-keys/", api_key_list, name="api-key-list"),
    path("orgs/<slug:org_slug>/api-keys/<int:pk>/", api_key_detail, name="api-key-detail"),
    path("orgs/<slug:org_slug>/api-keys/<int:pk>/rotate", api_key_rotate, name="api-key-rotate"),
    path("orgs/<slug:org_slug>/service-accounts/", service_accounts, name="service-account-list"),
]
