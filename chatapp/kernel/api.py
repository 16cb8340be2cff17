"""API base classes: the tenant-scoped view set and strict input serializers."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, serializers, viewsets

# The path parameter of every organization-scoped route, described once for the OpenAPI schema.
ORG_SLUG = OpenApiParameter("org_slug", str, OpenApiParameter.PATH, description="The organization's slug.")


class StrictSerializerMixin:
    """Refuse unknown fields with 400 instead of silently ignoring them (a typo must not look like success)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - {name for name, field in self.fields.items() if not field.read_only})
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class StrictSerializer(StrictSerializerMixin, serializers.Serializer):
    """Input serializer base: validates, never saves (writes go through services)."""


class OrgScopedViewSet(viewsets.GenericViewSet):
    """Base for every /api/v1/orgs/{org_slug}/... view set.

    It resolves the organization from the URL and the caller's active membership (404 for a non-member, the
    same answer as for an organization that does not exist) and scopes every queryset to it. Subclasses
    implement `scoped_queryset()`; overriding `get_queryset` is refused at class creation, so no view can
    build an unscoped queryset.
    """

    organization = None
    membership = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(f"{cls.__name__} overrides get_queryset; implement scoped_queryset() instead")

    def check_permissions(self, request):
        # The organization is resolved before any permission class runs: another organization's route answers
        # 404 (as if it did not exist), never a 403 that would confirm it does. Anonymous callers still get 401.
        if request.user.is_authenticated:
            from accounts.selectors import membership_for_slug
            from rbac.services import remember_membership

            self.membership = membership_for_slug(user=request.user, org_slug=self.kwargs.get("org_slug", ""))
            if self.membership is None:
                raise Http404
            remember_membership(self.membership)
            self.organization = self.membership.organization
            request._request.organization = self.organization  # for middleware that works per organization
        super().check_permissions(request)

    def scoped_queryset(self):
        raise NotImplementedError

    def handle_exception(self, exc):
        # A refusal inside an organization is a security event: record who tried what (the audit trail).
        if self.organization is not None and isinstance(exc, exceptions.PermissionDenied | DjangoPermissionDenied):
            from audit.services import audit_denied

            match = self.request.resolver_match
            audit_denied(
                org=self.organization, actor=self.request.user, method=self.request.method,
                route=match.route if match else self.request.path, reason=str(exc),
            )  # fmt: skip
        return super().handle_exception(exc)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no organization
            return self.queryset.none() if self.queryset is not None else None
        return self.scoped_queryset().filter(organization=self.organization)
