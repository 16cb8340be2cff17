"""RBAC API: validate -> call a service or selector -> render. Every view is organization-scoped."""

import csv
import io

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts.models import IdentityProvider, Membership
from accounts.permissions import MEMBERS_VIEW
from accounts.stepup import require_recent_verification
from audit.permissions import AUDIT_READ
from chatapp.kernel.api import ORG_SLUG, OrgScopedViewSet
from rbac import selectors
from rbac.api.serializers import (
    AccessReviewCreateSerializer,
    AccessReviewDecideSerializer,
    AccessReviewItemSerializer,
    AccessReviewSerializer,
    AccessReviewUpdateSerializer,
    ExplainSerializer,
    GrantCreateSerializer,
    GrantSerializer,
    GroupMappingCreateSerializer,
    GroupMappingSerializer,
    MyPermissionsSerializer,
    PermissionSerializer,
    ReviewSummarySerializer,
    RoleCreateSerializer,
    RoleSerializer,
    RoleUpdateSerializer,
    TeamCreateSerializer,
    TeamMemberAddSerializer,
    TeamMemberSerializer,
    TeamMemberUpdateSerializer,
    TeamSerializer,
    TeamUpdateSerializer,
    WhatIfResultSerializer,
    WhatIfSerializer,
)
from rbac.drf import HasPerm
from rbac.models import AccessReview, AccessReviewItem, Grant, IdentityGroupMapping, Role, Team, TeamMember
from rbac.permissions import ROLES_MANAGE, SSO_MANAGE
from rbac.registry import permissions
from rbac.services import grants as grant_services
from rbac.services import has_perm, permissions_of, resource_grants_of, reviews, roles, team_ids_of, teams, whatif

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
    list=extend_schema(summary="List identity-group mappings", parameters=[ORG_SLUG]),
    retrieve=extend_schema(summary="Show an identity-group mapping", parameters=[ORG_SLUG]),
    create=extend_schema(
        summary="Map an identity provider's group to a team and/or a role (needs step-up)",
        request=GroupMappingCreateSerializer,
        responses={201: GroupMappingSerializer},
        parameters=[ORG_SLUG],
    ),
    destroy=extend_schema(summary="Remove an identity-group mapping (needs step-up)", parameters=[ORG_SLUG]),
)
class GroupMappingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RbacViewSet):
    """Groups sent by SSO logins and directory sync, mapped to teams and roles (applied at every login and sync).

    Reading them needs sso.manage: they reveal the IdP's group names. Writes change who gets which role at the next
    login, so like the identity providers themselves they need a recent second-factor verification.
    """

    queryset = IdentityGroupMapping.objects.all()
    serializer_class = GroupMappingSerializer
    permission_classes = [IsAuthenticated, HasPerm.of(GET=SSO_MANAGE, POST=None, DELETE=None)]
    filterset_fields = ["provider", "team", "role"]

    def scoped_queryset(self):
        return selectors.mappings_of(org=self.organization)

    def create(self, request, *args, **kwargs):
        data = GroupMappingCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values, org = data.validated_data, self.organization
        if (
            values["provider"]
            and not IdentityProvider.objects.filter(organization=org, slug=values["provider"]).exists()
        ):
            raise ValidationError({"provider": ["No identity provider with this slug in this organization."]})
        require_recent_verification(request)
        mapping = grant_services.mapping_create(
            actor=request.user,
            org=org,
            group_name=values["group_name"],
            provider=values["provider"],
            team=self._lookup(Team.objects.for_org(org), "team_id", values["team_id"]),
            role=self._lookup(Role.objects.for_org(org), "role_id", values["role_id"]),
        )
        return Response(GroupMappingSerializer(self.get_queryset().get(pk=mapping.pk)).data, status=201)

    def destroy(self, request, *args, **kwargs):
        mapping = self.get_object()  # another organization's mapping is a 404 before any step-up question
        require_recent_verification(request)
        grant_services.mapping_delete(actor=request.user, org=self.organization, mapping=mapping)
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


# --- Explain and what-if ---------------------------------------------------------------------------------------

EXPLAIN_PARAMETERS = [
    ORG_SLUG,
    OpenApiParameter("user", int, required=True, description="The user's id (a member of this organization)."),
    OpenApiParameter("permission", str, required=True, description="A permission code, e.g. channels.manage."),
    OpenApiParameter("object", str, required=False, description="<resource_type>:<id>, e.g. chat.channel:12."),
]


def require_any(*, user, org, perms) -> None:
    """403 unless the user holds at least one of `perms` (explain and reviews are for managers and auditors)."""
    if not any(has_perm(user=user, org=org, perm=perm) for perm in perms):
        raise PermissionDenied(f"You need one of {', '.join(repr(p.key) for p in perms)} to do this.")


OVERSIGHT = (ROLES_MANAGE, AUDIT_READ)


@extend_schema_view(
    list=extend_schema(
        summary="Explain whether a user holds a permission, and through which grants",
        parameters=EXPLAIN_PARAMETERS,
        responses=ExplainSerializer,
    )
)
class ExplainViewSet(RbacViewSet):
    """Needs roles.manage or audit.read: it shows who holds what, as the grant and audit lists do."""

    permission_classes = [IsAuthenticated, HasPerm.of(GET=None)]
    queryset = Grant.objects.none()  # for the schema only
    serializer_class = ExplainSerializer
    pagination_class = None

    def list(self, request, *args, **kwargs):
        org = self.organization
        require_any(user=request.user, org=org, perms=OVERSIGHT)
        params = request.query_params
        unknown = sorted(set(params) - {"user", "permission", "object"})
        if unknown:
            raise ValidationError({name: ["Unknown parameter."] for name in unknown})
        for name in ("user", "permission"):
            if not params.get(name):
                raise ValidationError({name: ["This parameter is required."]})
        user = selectors.member_user(org=org, user_id=params["user"])
        resource = selectors.parse_object(org=org, value=params["object"]) if params.get("object") else None
        found = selectors.permission_explain(org=org, user=user, permission=params["permission"], resource=resource)
        body = {
            "allowed": found.allowed,
            "user": found.user,
            "permission": found.permission,
            "object": f"{resource[0]}:{resource[1]}" if resource else None,
            "summary": found.summary,
            "sources": found.sources,
        }
        return Response(ExplainSerializer(body).data)


@extend_schema_view(
    create=extend_schema(
        summary="Preview who gains or loses which permissions if a change were made (nothing is saved)",
        request=WhatIfSerializer,
        responses=WhatIfResultSerializer,
        parameters=[ORG_SLUG],
    )
)
class WhatIfViewSet(RbacViewSet):
    """The real service runs in a rolled-back savepoint, as the caller: a change they may not make is 403."""

    permission_classes = [IsAuthenticated, HasPerm.of(POST=None)]
    queryset = Grant.objects.none()  # for the schema only
    serializer_class = WhatIfResultSerializer
    pagination_class = None

    def create(self, request, *args, **kwargs):
        data = WhatIfSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values, org, actor = data.validated_data, self.organization, request.user
        change = values["change"]
        roles_of_org, teams_of_org = Role.objects.for_org(org), Team.objects.for_org(org)
        if change == "role_update":
            role = self._lookup(roles_of_org, "role_id", values["role_id"])
            fields = {name: values[name] for name in ("permissions", "base_role") if name in values}
            preview = whatif.preview_role_update(actor=actor, org=org, role=role, **fields)
        elif change == "grant_create":
            resource = None
            if values.get("resource_id") is not None:
                resource = grant_services.grant_resource(
                    org=org, resource_type=values["resource_type"], resource_id=values["resource_id"]
                )
            preview = whatif.preview_grant_create(
                actor=actor,
                org=org,
                role=self._lookup(roles_of_org, "role_id", values["role_id"]),
                user=self._member_user(values["user_id"]) if values.get("user_id") else None,
                team=self._lookup(teams_of_org, "team_id", values.get("team_id")),
                resource=resource,
                expires_at=values.get("expires_at"),
            )
        elif change == "grant_revoke":
            grant = self._lookup(
                Grant.objects.for_org(org).select_related("user", "team"), "grant_id", values["grant_id"]
            )
            preview = whatif.preview_grant_revoke(actor=actor, org=org, grant=grant)
        else:
            team = self._lookup(teams_of_org, "team_id", values["team_id"])
            user = self._member_user(values["user_id"])
            service = (
                whatif.preview_team_member_add if change == "team_member_add" else whatif.preview_team_member_remove
            )
            preview = service(actor=actor, org=org, team=team, user=user)
        body = {"change": change, "users_checked": preview.users_checked, "changes": preview.changes}
        return Response(WhatIfResultSerializer(body).data)


# --- Access reviews --------------------------------------------------------------------------------------------

REVIEW_ID = OpenApiParameter("review_pk", int, OpenApiParameter.PATH, description="The review's id.")
ITEM_FILTERS = [
    OpenApiParameter("decision", str, enum=["undecided", *AccessReviewItem.Decision.values]),
    OpenApiParameter("kind", str, enum=AccessReviewItem.Kind.values),
    OpenApiParameter("user", int, description="Items about this user."),
    OpenApiParameter("inactive", bool, description="Only items of people flagged inactive (or not)."),
]


class _ReviewAccess:
    """Managers (roles.manage) and auditors (audit.read) see every review; reviewers see theirs."""

    def sees_all(self) -> bool:
        return any(has_perm(user=self.request.user, org=self.organization, perm=perm) for perm in OVERSIGHT)

    def reviews(self):
        return selectors.reviews_of(org=self.organization, user=self.request.user, see_all=self.sees_all())

    def review(self, pk) -> AccessReview:
        return get_object_or_404(self.reviews(), pk=pk)


@extend_schema_view(
    list=extend_schema(summary="List access reviews", parameters=[ORG_SLUG]),
    retrieve=extend_schema(summary="Show an access review", parameters=[ORG_SLUG]),
    create=extend_schema(
        summary="Create an access review (a draft with its items)",
        request=AccessReviewCreateSerializer,
        parameters=[ORG_SLUG],
    ),
    partial_update=extend_schema(
        summary="Change an access review", request=AccessReviewUpdateSerializer, parameters=[ORG_SLUG]
    ),
    destroy=extend_schema(summary="Delete a draft access review", parameters=[ORG_SLUG]),
    open=extend_schema(summary="Open a draft review for decisions", request=None, parameters=[ORG_SLUG]),
    close=extend_schema(
        summary="Close a review now (undecided items get the default action)", request=None, parameters=[ORG_SLUG]
    ),
    decide=extend_schema(
        summary="Decide one or many items (keep, revoke or change), all or nothing",
        request=AccessReviewDecideSerializer,
        responses=AccessReviewItemSerializer(many=True),
        parameters=[ORG_SLUG],
    ),
    summary=extend_schema(
        summary="Summary: counts, decisions, who decided what and when (JSON, or CSV with ?type=csv)",
        parameters=[ORG_SLUG, OpenApiParameter("type", str, enum=["json", "csv"])],
        responses={(200, "application/json"): ReviewSummarySerializer, (200, "text/csv"): OpenApiTypes.STR},
    ),
)
class AccessReviewViewSet(_ReviewAccess, mixins.ListModelMixin, mixins.RetrieveModelMixin, RbacViewSet):
    permission_classes = [IsAuthenticated, HasPerm.of(GET=None, POST=None, PATCH=None, DELETE=None)]
    queryset = AccessReview.objects.all()
    serializer_class = AccessReviewSerializer
    filterset_fields = ["status", "scope"]

    def scoped_queryset(self):
        return self.reviews()

    def _render(self, review, status_code=status.HTTP_200_OK):
        return Response(AccessReviewSerializer(self.get_queryset().get(pk=review.pk)).data, status=status_code)

    def _reviewers(self, ids):
        return [self._member_user(user_id, "reviewer_ids") for user_id in ids]

    def create(self, request, *args, **kwargs):
        data = AccessReviewCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values, org = data.validated_data, self.organization
        review = reviews.review_create(
            actor=request.user,
            org=org,
            name=values["name"],
            description=values["description"],
            scope=values["scope"],
            role=self._lookup(Role.objects.for_org(org), "role_id", values["role_id"]),
            team=self._lookup(Team.objects.for_org(org), "team_id", values["team_id"]),
            resource_type=values["resource_type"],
            reviewer_kind=values["reviewer_kind"],
            reviewers=self._reviewers(values["reviewer_ids"]),
            due_at=values["due_at"],
            default_action=values["default_action"],
            inactive_days=values["inactive_days"],
        )
        return self._render(review, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        review = self.get_object()
        data = AccessReviewUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "reviewer_ids" in values:
            values["reviewers"] = self._reviewers(values.pop("reviewer_ids"))
        review = reviews.review_update(actor=request.user, org=self.organization, review=review, **values)
        return self._render(review)

    def destroy(self, request, *args, **kwargs):
        reviews.review_delete(actor=request.user, org=self.organization, review=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"], url_path="open")
    def open(self, request, *args, **kwargs):
        review = reviews.review_open(actor=request.user, org=self.organization, review=self.get_object())
        return self._render(review)

    @action(detail=True, methods=["post"], url_path="close")
    def close(self, request, *args, **kwargs):
        review = reviews.review_close(actor=request.user, org=self.organization, review=self.get_object())
        return self._render(review)

    @action(detail=True, methods=["post"], url_path="decide")
    def decide(self, request, *args, **kwargs):
        review = self.get_object()
        data = AccessReviewDecideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values, org = data.validated_data, self.organization
        decided = reviews.items_decide(
            actor=request.user,
            org=org,
            review=review,
            item_ids=values["item_ids"],
            decision=values["decision"],
            comment=values["comment"],
            new_role=self._lookup(Role.objects.for_org(org), "new_role_id", values["new_role_id"]),
        )
        items = selectors.review_items(review=review).filter(pk__in=[item.pk for item in decided])
        return Response(AccessReviewItemSerializer(items, many=True).data)

    @action(detail=True, methods=["get"], url_path="summary")
    def summary(self, request, *args, **kwargs):
        review = self.get_object()
        kind = request.query_params.get("type", "json")
        if kind not in ("json", "csv"):
            raise ValidationError({"type": ["Either json or csv."]})
        body = selectors.review_summary(review=review)
        if kind == "json":
            return Response(ReviewSummarySerializer(body).data)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(ReviewSummarySerializer().fields["items"].child.fields))
        writer.writeheader()
        for row in ReviewSummarySerializer(body).data["items"]:
            writer.writerow({key: "" if value is None else value for key, value in row.items()})
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="access-review-{review.pk}.csv"'
        return response


@extend_schema_view(
    list=extend_schema(summary="List a review's items", parameters=[ORG_SLUG, REVIEW_ID, *ITEM_FILTERS]),
)
class AccessReviewItemViewSet(_ReviewAccess, mixins.ListModelMixin, RbacViewSet):
    permission_classes = [IsAuthenticated, HasPerm.of(GET=None)]
    queryset = AccessReviewItem.objects.all()
    serializer_class = AccessReviewItemSerializer

    def scoped_queryset(self):
        items = selectors.review_items(review=self.review(self.kwargs["review_pk"]))
        params = self.request.query_params
        decision = params.get("decision")
        if decision:
            if decision not in ["undecided", *AccessReviewItem.Decision.values]:
                raise ValidationError({"decision": ["undecided, keep, revoke or change."]})
            items = items.filter(decision="" if decision == "undecided" else decision)
        if params.get("kind"):
            items = items.filter(kind=params["kind"])
        if params.get("user"):
            if not params["user"].isdigit():
                raise ValidationError({"user": ["A user id."]})
            items = items.filter(user_id=int(params["user"]))
        if params.get("inactive") in ("true", "false"):
            items = items.filter(inactive=params["inactive"] == "true")
        return items
