"""API keys and service accounts of an organization: list, create (secret shown once), revoke, rotate."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.serializers import UserSummarySerializer
from accounts.models import ApiKey, Membership, ServiceAccount
from accounts.services import api_keys as services
from accounts.stepup import require_recent_verification
from chatapp.kernel.api import ORG_SLUG, OrgScopedViewSet, StrictSerializer
from rbac.permissions import API_KEYS_MANAGE
from rbac.services import require_perm


class NotWithApiKey(BasePermission):
    """Creating credentials and managing sessions need an interactive login, not an API key (a leaked key must
    not mint longer-lived keys)."""

    message = "Do this from a logged-in session, not with an API key."

    def has_permission(self, request, view):
        return not isinstance(request.auth, ApiKey)


CREDENTIAL_PERMISSIONS = [IsAuthenticated, NotWithApiKey]


class ServiceAccountSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = ServiceAccount
        fields = ["id", "name"]
        read_only_fields = fields


class ApiKeySerializer(serializers.ModelSerializer):
    owner = UserSummarySerializer(read_only=True)
    service_account = ServiceAccountSummarySerializer(read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id", "name", "kind", "prefix", "owner", "service_account", "scopes", "write", "allowed_ips",
            "created_at", "expires_at", "revoked_at", "last_used_at", "last_used_ip", "rotated_from",
        ]  # fmt: skip
        read_only_fields = fields


class ApiKeyCreatedSerializer(ApiKeySerializer):
    secret = serializers.CharField(read_only=True, help_text="The key itself. Shown this once; store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "secret"]
        read_only_fields = fields


def _created(result: services.ApiKeyCreated) -> dict:
    result.key.secret = result.secret
    return ApiKeyCreatedSerializer(result.key).data


class ApiKeyCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=80)
    scopes = serializers.ListField(child=serializers.CharField(max_length=100), max_length=200)
    write = serializers.BooleanField(default=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Default: the org maximum.")
    allowed_ips = serializers.ListField(child=serializers.CharField(max_length=64), required=False, default=list)
    service_account_id = serializers.IntegerField(required=False, allow_null=True)


class ApiKeyRotateSerializer(StrictSerializer):
    overlap_hours = serializers.IntegerField(
        default=24, min_value=0, max_value=services.MAX_OVERLAP_HOURS, help_text="How long the old key keeps working."
    )


@extend_schema_view(
    list=extend_schema(summary="List API keys (yours; all with api_keys.manage)", parameters=[ORG_SLUG]),
    retrieve=extend_schema(summary="One API key", parameters=[ORG_SLUG]),
    create=extend_schema(
        summary="Create an API key; the response holds the secret, once",
        parameters=[ORG_SLUG],
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyCreatedSerializer},
    ),
    destroy=extend_schema(summary="Revoke an API key", parameters=[ORG_SLUG], responses={204: None}),
    rotate=extend_schema(
        summary="Rotate: a new key with the same settings; the old one works for overlap_hours more",
        parameters=[ORG_SLUG],
        request=ApiKeyRotateSerializer,
        responses={201: ApiKeyCreatedSerializer},
    ),
)
class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    queryset = ApiKey.objects.all()
    serializer_class = ApiKeySerializer
    filterset_fields = ["kind", "service_account"]

    def get_permissions(self):
        if self.action in ("create", "rotate"):
            return [permission() for permission in CREDENTIAL_PERMISSIONS]
        return super().get_permissions()

    def scoped_queryset(self):
        return services.api_keys_visible_to(user=self.request.user, org=self.organization)

    def create(self, request, *args, **kwargs):
        require_recent_verification(request)  # minting a credential: MFA step-up
        data = ApiKeyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        account = None
        if values.get("service_account_id") is not None:
            account = ServiceAccount.objects.for_org(self.organization).filter(pk=values["service_account_id"]).first()
            if account is None:
                raise ValidationError({"service_account_id": ["No such service account in this organization."]})
        result = services.api_key_create(
            actor=request.user, org=self.organization, name=values["name"], scopes=values["scopes"],
            service_account=account, write=values["write"], expires_at=values.get("expires_at"),
            allowed_ips=values["allowed_ips"],
        )  # fmt: skip
        return Response(_created(result), status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        services.api_key_revoke(actor=request.user, org=self.organization, key=self.get_object(), reason="revoked")
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def rotate(self, request, *args, **kwargs):
        key = self.get_object()  # another organization's key is a 404 before anything else
        require_recent_verification(request)  # minting a credential: MFA step-up
        data = ApiKeyRotateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.api_key_rotate(
            actor=request.user, org=self.organization, key=key, overlap_hours=data.validated_data["overlap_hours"]
        )
        return Response(_created(result), status=status.HTTP_201_CREATED)


class ServiceAccountSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = ServiceAccount
        fields = ["id", "name", "role", "created_at"]
        read_only_fields = fields

    def get_role(self, account) -> str:
        return account.role


class ServiceAccountCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=80)
    role = serializers.ChoiceField(
        choices=[choice for choice in Membership.Role.choices if choice[0] != Membership.Role.OWNER],
        default=Membership.Role.MEMBER,
    )


@extend_schema_view(
    list=extend_schema(summary="List service accounts (api_keys.manage)", parameters=[ORG_SLUG]),
    create=extend_schema(
        summary="Create a service account (a non-human member that owns API keys)",
        parameters=[ORG_SLUG],
        request=ServiceAccountCreateSerializer,
        responses={201: ServiceAccountSerializer},
    ),
)
class ServiceAccountViewSet(mixins.ListModelMixin, OrgScopedViewSet):
    queryset = ServiceAccount.objects.all()
    serializer_class = ServiceAccountSerializer

    def get_permissions(self):
        if self.action == "create":
            return [permission() for permission in CREDENTIAL_PERMISSIONS]
        return super().get_permissions()

    def scoped_queryset(self):
        from django.db.models import OuterRef, Subquery

        require_perm(user=self.request.user, org=self.organization, perm=API_KEYS_MANAGE)
        role = Membership.objects.filter(organization=OuterRef("organization"), user=OuterRef("user")).values("role")
        return ServiceAccount.objects.annotate(role=Subquery(role[:1]))

    def create(self, request, *args, **kwargs):
        require_recent_verification(request)  # minting a credential: MFA step-up
        data = ServiceAccountCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = services.service_account_create(actor=request.user, org=self.organization, **data.validated_data)
        return Response(
            ServiceAccountSerializer(self.get_queryset().get(pk=account.pk)).data, status=status.HTTP_201_CREATED
        )


class MyApiKeysView(APIView):
    """Your personal keys in every organization (manage each through its organization's routes)."""

    @extend_schema(summary="Your personal API keys in all your organizations", responses=ApiKeySerializer(many=True))
    def get(self, request):
        keys = ApiKey.objects.filter(owner=request.user, kind=ApiKey.Kind.PERSONAL).select_related(
            "owner", "service_account"
        )
        if isinstance(request.auth, ApiKey):
            keys = keys.filter(organization_id=request.auth.organization_id)
        return Response(ApiKeySerializer(keys[:500], many=True).data)
