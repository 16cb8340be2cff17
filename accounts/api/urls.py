from django.urls import path

from accounts.api import views

urlpatterns = [
    path("me", views.MeView.as_view(), name="me"),
    path("auth/session", views.SessionView.as_view(), name="auth-session"),
    path("orgs/<slug:org_slug>/members/", views.MemberViewSet.as_view({"get": "list"}), name="member-list"),
]
