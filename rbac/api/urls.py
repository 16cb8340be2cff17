"""Routes under /api/v1/orgs/<org_slug>/ (included by chatapp/api_urls.py)."""

from django.urls import path

from rbac.api import views

roles = views.RoleViewSet
teams = views.TeamViewSet
members = views.TeamMemberViewSet
grants = views.GrantViewSet
reviews = views.AccessReviewViewSet
mappings = views.GroupMappingViewSet

urlpatterns = [
    path("me/permissions", views.MyPermissionsViewSet.as_view({"get": "list"}), name="me-permissions"),
    path("rbac/permissions/", views.PermissionCatalogueViewSet.as_view({"get": "list"}), name="rbac-permission-list"),
    path("rbac/roles/", roles.as_view({"get": "list", "post": "create"}), name="rbac-role-list"),
    path(
        "rbac/roles/<int:pk>/",
        roles.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="rbac-role-detail",
    ),
    path("rbac/teams/", teams.as_view({"get": "list", "post": "create"}), name="rbac-team-list"),
    path(
        "rbac/teams/<int:pk>/",
        teams.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="rbac-team-detail",
    ),
    path(
        "rbac/teams/<int:team_pk>/members/",
        members.as_view({"get": "list", "post": "create"}),
        name="rbac-team-member-list",
    ),
    path(
        "rbac/teams/<int:team_pk>/members/<int:user_id>/",
        members.as_view({"patch": "partial_update", "delete": "destroy"}),
        name="rbac-team-member-detail",
    ),
    path("rbac/grants/", grants.as_view({"get": "list", "post": "create"}), name="rbac-grant-list"),
    path("rbac/grants/<int:pk>/", grants.as_view({"get": "retrieve", "delete": "destroy"}), name="rbac-grant-detail"),
    path("rbac/group-mappings/", mappings.as_view({"get": "list", "post": "create"}), name="rbac-group-mapping-list"),
    path(
        "rbac/group-mappings/<int:pk>/",
        mappings.as_view({"get": "retrieve", "delete": "destroy"}),
        name="rbac-group-mapping-detail",
    ),
    path("rbac/explain", views.ExplainViewSet.as_view({"get": "list"}), name="rbac-explain"),
    path("rbac/what-if", views.WhatIfViewSet.as_view({"post": "create"}), name="rbac-what-if"),
    path("rbac/reviews/", reviews.as_view({"get": "list", "post": "create"}), name="rbac-review-list"),
    path(
        "rbac/reviews/<int:pk>/",
        reviews.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="rbac-review-detail",
    ),
    path("rbac/reviews/<int:pk>/open", reviews.as_view({"post": "open"}), name="rbac-review-open"),
    path("rbac/reviews/<int:pk>/close", reviews.as_view({"post": "close"}), name="rbac-review-close"),
    path("rbac/reviews/<int:pk>/decide", reviews.as_view({"post": "decide"}), name="rbac-review-decide"),
    path("rbac/reviews/<int:pk>/summary", reviews.as_view({"get": "summary"}), name="rbac-review-summary"),
    path(
        "rbac/reviews/<int:review_pk>/items/",
        views.AccessReviewItemViewSet.as_view({"get": "list"}),
        name="rbac-review-item-list",
    ),
]
