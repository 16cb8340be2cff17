"""Who am I, log in and out, and the organization's member list."""

import django_filters
from django.contrib.auth import authenticate, login, logout
from django.db import transaction
from django.db.models import Q
from django.middleware.csrf import get_token
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import audit_events as events
from accounts.api.serializers import LoginSerializer, MemberSerializer, MeSerializer
from accounts.models import Membership
from accounts.permissions import MEMBERS_VIEW
from accounts.selectors import members_of, memberships_of
from audit.models import ActorType, Outcome
from audit.services import Actor, audit_record
from chatapp.kernel import filters
from chatapp.kernel.api import ORG_SLUG, OrgScopedViewSet
from chatapp.kernel.throttling import ScopedRateThrottle
from rbac.services import require_perm


def _me(user):
    user.active_memberships = list(memberships_of(user=user))
    return MeSerializer(user).data


class MeView(APIView):
    @extend_schema(summary="The caller and their organizations", responses=MeSerializer)
    def get(self, request):
        return Response(_me(request.user))


class SessionView(APIView):
    """Session login for browsers and scripts. API keys for long-lived clients come with account security.

    Login needs no CSRF token: the body must be JSON, which a cross-site form cannot send. Logout goes through
    session authentication, and so needs the token like every other unsafe request.
    """

    permission_classes = (AllowAny,)
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "login"

    def initialize_request(self, request, *args, **kwargs):
        self.logging_in = request.method == "POST"
        return super().initialize_request(request, *args, **kwargs)

    def get_authenticators(self):
        return [] if self.logging_in else super().get_authenticators()

    @extend_schema(summary="Log in with e-mail and password", request=LoginSerializer, responses=MeSerializer)
    def post(self, request):
        data = LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        email = data.validated_data["email"]
        user = authenticate(request, email=email, password=data.validated_data["password"])
        if user is None:
            with transaction.atomic():
                audit_record(
                    org=None, event=events.LOGIN_FAILED, actor=Actor(ActorType.USER, "", email),
                    outcome=Outcome.FAILURE,
                )  # fmt: skip
            raise ValidationError({"non_field_errors": ["Wrong e-mail address or password."]})
        login(request, user)
        get_token(request)  # sets the csrftoken cookie that later unsafe requests must echo
        with transaction.atomic():
            audit_record(org=None, event=events.LOGIN_SUCCEEDED, actor=user, target=user)
        return Response(_me(user))

    @extend_schema(summary="Log out", request=None, responses={204: None})
    def delete(self, request):
        if request.user.is_authenticated:
            with transaction.atomic():
                audit_record(org=None, event=events.LOGGED_OUT, actor=request.user, target=request.user)
        logout(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberFilter(filters.FilterSet):
    q = django_filters.CharFilter(method="search", help_text="Part of the member's e-mail or name.")

    class Meta:
        model = Membership
        fields = ["role", "is_active"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(user__email__icontains=value) | Q(user__full_name__icontains=value))


@extend_schema_view(
    list=extend_schema(
        summary="List the organization's members",
        parameters=[ORG_SLUG],
    )
)
class MemberViewSet(mixins.ListModelMixin, OrgScopedViewSet):
    queryset = Membership.objects.all()
    serializer_class = MemberSerializer
    filterset_class = MemberFilter

    def scoped_queryset(self):
        require_perm(user=self.request.user, org=self.organization, perm=MEMBERS_VIEW)
        return members_of(organization=self.organization)
