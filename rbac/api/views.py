"""RBAC API: validate -> call a service or selector -> render. Every view is organization-scoped."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts.models import Membership
from accounts.permissions import MEMBERS_VIEW
from chatapp.kernel.api import OrgScopedViewSet
from rbac import selectors
from rbac.api.serializers import (
    GrantCreateSerializer,
    GrantSerializer,
    MyPermissionsSerializer,
    PermissionSerializer,
    RoleCreateSerializer,
    RoleSerializer,
    RoleUpdateSerializer,
    TeamCreateSerializer,
    TeamMemberAddSerializer,
    TeamMemberSerializer,
    TeamMemberUpdateSerializer,
    TeamSerializer,
    TeamUpdateSerializer,
)
from rbac.drf import HasPerm
from rbac.models import Grant, Role, Team, TeamMember
from rbac.registry import permissions
from rbac.services import grants as grant_services
from rbac.services import permissions_of, resource_grants_of, roles, team_ids_of, teams

ORG_SLUG = OpenApiParameter("org_slug", str, OpenApiParameter.PATH, description="The organization's slug.")

# Reads need members.view (who holds what is part of knowing the organization's members); writes are checked
# by the services (roles.manage, teams.manage or team maintainer, and no escalation).
READ_THEN_SERVICE = HasPerm.of(GET=MEMBERS_VIEW, POST=None, PATCH=None, DELETE=None)


class RbacViewSet(OrgScopedViewSet):
    permission_classes = [IsAuthenticated, READ_THEN_SERVICE]

    def _lookup(self, queryset, field: str, pk):
        """An org-scoped row named by an id in the request body, or a 400 naming the field."""
        if pk is None:
            return None
        found = queryset.filter(pk=pk).first()
        if found is None:
            raise ValidationError({field: ["No such object in this organization."]})
        return found

    def _member_user(self, user_id: int, field: str = "user_id"):
        membership = (
            Membership.objects.filter(organization=self.organization, user_id=user_id).select_related("user").first()
        )
        if membership is None:
            raise ValidationError({field: ["No such member in this organization."]})
        return membership.user


@extend_schema_view(list=extend_schema(summary="List the permission codes roles can hold", parameters=[ORG_SLUG]))
class PermissionCatalogueViewSet(RbacViewSet):
    queryset = Role.objects.none()  # no rows behind it: the catalogue lives in code (for the schema only)
    serializer_class = PermissionSerializer
    pagination_class = None

    def list(self, request, *args, **kwargs):
        return Response(PermissionSerializer(list(permissions), many=True).data)


@extend_schema_view(
    list=extend_schema(summary="List roles (built-in and custom)", parameters=[ORG_SLUG]),
    retrieve=extend_schema(summary="Show a role", parameters=[ORG_SLUG]),
    create=extend_schema(summary="Create a custom role", request=RoleCreateSerializer, parameters=[ORG_SLUG]),
    partial_update=extend_schema(summary="Change a custom role", request=RoleUpdateSerializer, parameters=[ORG_SLUG]),
    destroy=extend_schema(summary="Delete a custom role nobody holds", parameters=[ORG_SLUG]),
)
class RoleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RbacViewSet):
    queryset = Role.objects.all()
    serializer_class = RoleSerializer
    filterset_fields = ["is_built_in"]

    def scoped_queryset(self):
        return selectors.roles_of(org=self.organization)

    def list(self, request, *args, **kwargs):
        roles.roles_ensure_built_in(org=self.organization)
        return super().list(request, *args, **kwargs)

    def create(self, request, *args, **kwargs):
        data = RoleCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        role = roles.role_create(actor=request.user, org=self.organization, **data.validated_data)
        return Response(RoleSerializer(role).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        role = self.get_object()
        data = RoleUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        role = roles.role_update(actor=request.user, org=self.organization, role=role, **data.validated_data)
        return Response(RoleSerializer(role).data)

    def destroy(self, request, *args, **kwargs):
        roles.role_delete(actor=request.user, org=self.organization, role=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="List teams", parameters=[ORG_SLUG]),
    retrieve=extend_schema(summary="Show a team", parameters=[ORG_SLUG]),
    create=extend_schema(summary="Create a team", request=TeamCreateSerializer, parameters=[ORG_SLUG]),
    partial_update=extend_schema(
        summary="Rename a team or move it under another parent", request=TeamUpdateSerializer, parameters=[ORG_SLUG]
    ),
    destroy=extend_schema(summary="Delete a team (its sub-teams become top-level)", parameters=[ORG_SLUG]),
)
class TeamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RbacViewSet):
    queryset = Team.objects.all()
    serializer_class = TeamSerializer
    filterset_fields = ["parent"]

    def scoped_queryset(self):
        return selectors.teams_of(org=self.organization)

    def _render(self, team, status_code=status.HTTP_200_OK):
        return Response(TeamSerializer(self.get_queryset().get(pk=team.pk)).data, status=status_code)

    def _parent(self, data):
        return self._lookup(Team.objects.for_org(self.organization), "parent_id", data.get("parent_id"))

    def create(self, request, *args, **kwargs):
        data = TeamCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        team = teams.team_create(
            actor=request.user,
            org=self.organization,
            name=values["name"],
            description=values["description"],
            parent=self._parent(values),
        )
        return self._render(team, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        team = self.get_object()
        data = TeamUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "parent_id" in values:
            values["parent"] = self._parent(values)
            del values["parent_id"]
        team = teams.team_update(actor=request.user, org=self.organization, team=team, **values)
        return self._render(team)

    def destroy(self, request, *args, **kwargs):
        teams.team_delete(actor=request.user, org=self.organization, team=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="List a team's members", parameters=[ORG_SLUG]),
    create=extend_schema(
        summary="Add a member to a team (or change whether they maintain it)",
        request=TeamMemberAddSerializer,
        parameters=[ORG_SLUG],
    ),
    partial_update=extend_schema(
        summary="Make a team member a maintainer or not", request=TeamMemberUpdateSerializer, parameters=[ORG_SLUG]
    ),
    destroy=extend_schema(summary="Remove someone from a team (or leave it)", parameters=[ORG_SLUG]),
)
class TeamMemberViewSet(mixins.ListModelMixin, RbacViewSet):
    queryset = TeamMember.objects.all()
    serializer_class = TeamMemberSerializer
    lookup_field = "user_id"

    def get_team(self) -> Team:
        if not hasattr(self, "_team"):
            self._team = get_object_or_404(Team.objects.for_org(self.organization), pk=self.kwargs["team_pk"])
        return self._team

    def scoped_queryset(self):
        return selectors.team_members(team=self.get_team())

    def create(self, request, *args, **kwargs):
        team = self.get_team()
        data = TeamMemberAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member, created = teams.team_member_add(
            actor=request.user,
            org=self.organization,
            team=team,
            user=self._member_user(data.validated_data["user_id"]),
            is_maintainer=data.validated_data.get("is_maintainer"),
        )
        return Response(
            TeamMemberSerializer(member).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    def partial_update(self, request, *args, **kwargs):
        member = self.get_object()
        data = TeamMemberUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member, _ = teams.team_member_add(
            actor=request.user,
            org=self.organization,
            team=self.get_team(),
            user=member.user,
            is_maintainer=data.validated_data["is_maintainer"],
        )
        return Response(TeamMemberSerializer(member).data)

    def destroy(self, request, *args, **kwargs):
        member = self.get_object()
        teams.team_member_remove(actor=request.user, org=self.organization, team=self.get_team(), user=member.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="List role grants", parameters=[ORG_SLUG]),
    retrieve=extend_schema(summary="Show a grant", parameters=[ORG_SLUG]),
    create=extend_schema(
        summary="Grant a role to a user or team, org-wide or on one resource",
        request=GrantCreateSerializer,
        parameters=[ORG_SLUG],
    ),
    destroy=extend_schema(summary="Revoke a grant", parameters=[ORG_SLUG]),
)
class GrantViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RbacViewSet):
    queryset = Grant.objects.all()
    serializer_class = GrantSerializer
    filterset_fields = ["role", "user", "team", "resource_type", "resource_id"]

    def scoped_queryset(self):
        return selectors.grants_of(org=self.organization)

    def create(self, request, *args, **kwargs):
        data = GrantCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        org = self.organization
        resource = None
        if values["resource_id"] is not None:
            resource = grant_services.grant_resource(
                org=org, resource_type=values["resource_type"], resource_id=values["resource_id"]
            )
        grant = grant_services.grant_create(
            actor=request.user,
            org=org,
            role=self._lookup(Role.objects.for_org(org), "role_id", values["role_id"]),
            user=self._member_user(values["user_id"]) if values["user_id"] is not None else None,
            team=self._lookup(Team.objects.for_org(org), "team_id", values["team_id"]),
            resource=resource,
            expires_at=values["expires_at"],
        )
        return Response(GrantSerializer(self.get_queryset().get(pk=grant.pk)).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        grant_services.grant_revoke(actor=request.user, org=self.organization, grant=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(
        summary="Your permissions in this organization", parameters=[ORG_SLUG], responses=MyPermissionsSerializer
    )
)
class MyPermissionsViewSet(OrgScopedViewSet):
    queryset = Membership.objects.none()  # for the schema only: the answer is computed, not listed
    serializer_class = MyPermissionsSerializer
    pagination_class = None

    def list(self, request, *args, **kwargs):
        user, org = request.user, self.organization
        body = {
            "role": self.membership.role,
            "permissions": sorted(permissions_of(user=user, org=org)),
            "teams": list(team_ids_of(user=user, org=org)),
            "resources": [
                {"resource_type": resource_type, "resource_id": resource_id, "permissions": sorted(codes)}
                for (resource_type, resource_id), codes in sorted(resource_grants_of(user=user, org=org).items())
            ],
        }
        return Response(MyPermissionsSerializer(body).data)
