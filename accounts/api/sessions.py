"""Your login sessions (list, revoke one, revoke the others) and an admin ending a member's sessions."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.api_keys import CREDENTIAL_PERMISSIONS
from accounts.models import Membership, UserSession
from accounts.selectors import members_of
from accounts.services import sessions as services
from chatapp.kernel.api import ORG_SLUG, OrgScopedViewSet


class SessionSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField(help_text="This is the session making the request.")

    class Meta:
        model = UserSession
        fields = ["id", "user_agent", "ip", "created_at", "last_activity", "current"]
        read_only_fields = fields

    def get_current(self, row) -> bool:
        return row.session_key == self.context.get("current_key")


class RevokedSerializer(serializers.Serializer):
    revoked = serializers.IntegerField()


def _current_key(request) -> str | None:
    session = getattr(request, "session", None)
    return session.session_key if session is not None else None


class MySessionsView(APIView):
    permission_classes = CREDENTIAL_PERMISSIONS

    @extend_schema(summary="Your login sessions; `current` marks this one", responses=SessionSerializer(many=True))
    def get(self, request):
        rows = services.sessions_of(user=request.user)[:200]
        return Response(SessionSerializer(rows, many=True, context={"current_key": _current_key(request)}).data)


class MySessionView(APIView):
    permission_classes = CREDENTIAL_PERMISSIONS

    @extend_schema(summary="End one of your sessions (its next request is unauthenticated)", responses={204: None})
    def delete(self, request, pk: int):
        row = get_object_or_404(services.sessions_of(user=request.user), pk=pk)
        services.session_revoke(actor=request.user, session=row)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RevokeOtherSessionsView(APIView):
    permission_classes = CREDENTIAL_PERMISSIONS

    @extend_schema(summary="End all your sessions but this one", request=None, responses=RevokedSerializer)
    def post(self, request):
        count = services.sessions_revoke_others(user=request.user, keep_session_key=_current_key(request))
        return Response({"revoked": count})


@extend_schema_view(
    destroy=extend_schema(
        summary="End every session of a member (members.manage)", parameters=[ORG_SLUG], responses=RevokedSerializer
    )
)
class MemberSessionsViewSet(OrgScopedViewSet):
    queryset = Membership.objects.all()
    serializer_class = RevokedSerializer
    lookup_url_kwarg = "user_id"

    def scoped_queryset(self):
        return members_of(organization=self.organization)

    def destroy(self, request, *args, **kwargs):
        membership = get_object_or_404(self.get_queryset(), user_id=kwargs["user_id"])
        count = services.member_sessions_revoke(actor=request.user, org=self.organization, membership=membership)
        return Response({"revoked": count})
