"""Who am I, and the organization's member list (login and logout: accounts.api.auth)."""

import django_filters
from django.db.models import Q
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.auth import me_data
from accounts.api.serializers import MemberSerializer, MeSerializer
from accounts.models import Membership
from accounts.permissions import MEMBERS_VIEW
from accounts.selectors import members_of
from chatapp.kernel import filters
from chatapp.kernel.api import ORG_SLUG, OrgScopedViewSet
from rbac.services import require_perm


class MeView(APIView):
    @extend_schema(summary="The caller and their organizations", responses=MeSerializer)
    def get(self, request):
        return Response(me_data(request.user))


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
