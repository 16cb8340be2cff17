"""SSO API: discovery for API and mobile clients, identity-provider configuration, enforcement.

    GET  /api/v1/auth/sso-discovery?email=                 -> {"method": "sso"|"password", "providers": [...]}
    GET|POST /api/v1/orgs/{org}/identity-providers/         (sso.manage; writes need step-up)
    GET|PUT|PATCH|DELETE /api/v1/orgs/{org}/identity-providers/{id}/
    GET|PATCH /api/v1/orgs/{org}/sso-enforcement            {"sso_enforced", "break_glass": [user ids]}

Secrets are write-only: a provider's representation lists the secret fields its kind has (`secret_fields`)
and which of them are set (`secrets_set`), never a value. In a write, `secrets` sets the keys it names,
a null or "" removes one, and keys left out are kept.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import exceptions as drf_exceptions
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import DomainClaim, IdentityProvider, Membership
from accounts.services import domains, sso
from accounts.sso import kinds, saml
from accounts.stepup import RecentlyVerified, require_recent_verification
from chatapp.kernel.api import ORG_SLUG, OrgScopedViewSet, StrictSerializer
from chatapp.kernel.authentication import NoCredentials
from chatapp.kernel.throttling import ScopedRateThrottle
from rbac.drf import HasPerm
from rbac.permissions import SSO_MANAGE

# --- Discovery -----------------------------------------------------------------------------------------------


class DiscoveryQuerySerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)


DISCOVERY_RESPONSE = inline_serializer(
    "SsoDiscovery",
    {
        "method": serializers.ChoiceField(choices=["sso", "password"]),
        "providers": inline_serializer(
            "SsoDiscoveryProvider",
            {
                "name": serializers.CharField(),
                "kind": serializers.CharField(),
                "login_url": serializers.URLField(allow_null=True),
            },
            many=True,
        ),
    },
)


def discovery(request, email: str) -> dict:
    """Where `email` signs in. Answers from the domain alone: it never says whether such a user exists."""
    providers = []
    for provider in sso.providers_for_email(email):
        url = kinds.login_url(provider)
        absolute = request.build_absolute_uri(url) if url else None
        providers.append({"name": provider.name, "kind": provider.kind, "login_url": absolute})
    # LDAP providers take the password on our own form: their domains still log in with "password".
    method = "sso" if any(p["login_url"] for p in providers) else "password"
    return {"method": method, "providers": providers}


@extend_schema(auth=[])  # asked before a login exists
class SsoDiscoveryView(APIView):
    permission_classes = (AllowAny,)
    authentication_classes = (NoCredentials,)
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "login"

    @extend_schema(
        summary="Where an e-mail address signs in (SSO or password)",
        parameters=[OpenApiParameter("email", str, OpenApiParameter.QUERY, required=True)],
        responses=DISCOVERY_RESPONSE,
        description="For API and mobile clients before login. Decided by the address's domain only; it does "
        "not reveal whether an account exists. With `sso`, open one of the `login_url`s in a browser.",
    )
    def get(self, request):
        data = DiscoveryQuerySerializer(data=request.query_params.dict())
        data.is_valid(raise_exception=True)
        return Response(discovery(request, data.validated_data["email"]))


# --- Identity providers --------------------------------------------------------------------------------------


class IdentityProviderSerializer(serializers.ModelSerializer):
    secret_fields = serializers.SerializerMethodField(help_text="The secret fields this kind takes (write-only).")
    secrets_set = serializers.SerializerMethodField(help_text="Which secret fields hold a value (never shown).")
    login_url = serializers.SerializerMethodField()

    class Meta:
        model = IdentityProvider
        fields = [
            "id", "kind", "slug", "name", "enabled", "email_domains", "jit_provisioning", "default_role",
            "attribute_map", "config", "allow_idp_initiated", "secret_fields", "secrets_set", "login_url",
            "created", "updated",
        ]  # fmt: skip
        read_only_fields = fields

    def get_secret_fields(self, obj) -> list[str]:
        return list(kinds.secret_fields(obj.kind))

    def get_secrets_set(self, obj) -> list[str]:
        return sso.secrets_set(obj)

    def get_login_url(self, obj) -> str | None:
        return kinds.login_url(obj)


class _ProviderWriteSerializer(StrictSerializer):
    slug = serializers.CharField(max_length=50)
    name = serializers.CharField(max_length=100)
    enabled = serializers.BooleanField(required=False)
    email_domains = serializers.ListField(child=serializers.CharField(max_length=253), max_length=50)
    jit_provisioning = serializers.BooleanField(required=False)
    default_role = serializers.ChoiceField(choices=Membership.Role.choices, required=False)
    attribute_map = serializers.DictField(child=serializers.CharField(max_length=200), required=False)
    config = serializers.DictField(required=False, help_text="The kind's settings (see docs/sso-<kind>.md).")
    secrets = serializers.DictField(
        child=serializers.CharField(allow_blank=True, allow_null=True, trim_whitespace=False, max_length=20000),
        required=False, write_only=True,
        help_text="Write-only. Names a kind's secret fields; null or \"\" removes one; absent keys are kept.",
    )  # fmt: skip
    allow_idp_initiated = serializers.BooleanField(required=False)


class IdentityProviderCreateSerializer(_ProviderWriteSerializer):
    # Checked against the kind registry by the service: the kinds this server offers.
    kind = serializers.CharField(max_length=16, help_text="saml, oidc or ldap.")


class IdentityProviderUpdateSerializer(_ProviderWriteSerializer):
    pass


@extend_schema_view(
    list=extend_schema(summary="List identity providers", parameters=[ORG_SLUG]),
    retrieve=extend_schema(summary="Show an identity provider", parameters=[ORG_SLUG]),
    create=extend_schema(
        summary="Add an identity provider", request=IdentityProviderCreateSerializer, parameters=[ORG_SLUG]
    ),
    update=extend_schema(
        summary="Replace an identity provider's settings",
        request=IdentityProviderUpdateSerializer,
        parameters=[ORG_SLUG],
    ),
    partial_update=extend_schema(
        summary="Change an identity provider", request=IdentityProviderUpdateSerializer, parameters=[ORG_SLUG]
    ),
    destroy=extend_schema(summary="Remove an identity provider", parameters=[ORG_SLUG]),
)
class IdentityProviderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    # Reads need sso.manage too: a provider's configuration tells how to reach and impersonate the IdP's app.
    # Writes need step-up, asked after the provider is found: another organization's id stays a plain 404.
    permission_classes = [
        IsAuthenticated, HasPerm.of(GET=SSO_MANAGE, POST=SSO_MANAGE, PUT=SSO_MANAGE, PATCH=SSO_MANAGE,
                                    DELETE=SSO_MANAGE),
    ]  # fmt: skip
    queryset = IdentityProvider.objects.all()
    serializer_class = IdentityProviderSerializer
    pagination_class = None  # a handful per organization

    def scoped_queryset(self):
        return IdentityProvider.objects.all()

    def create(self, request, *args, **kwargs):
        require_recent_verification(request)
        data = IdentityProviderCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # The services' field errors (core and kind validators) become a 400 in the problem handler.
        provider = sso.identity_provider_create(actor=request.user, org=self.organization, **data.validated_data)
        return Response(IdentityProviderSerializer(provider).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        provider = self.get_object()
        require_recent_verification(request)
        partial = kwargs.pop("partial", False)
        data = IdentityProviderUpdateSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        provider = sso.identity_provider_update(
            actor=request.user, org=self.organization, provider=provider, **data.validated_data
        )
        return Response(IdentityProviderSerializer(provider).data)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request, *args, **kwargs):
        provider = self.get_object()
        require_recent_verification(request)
        sso.identity_provider_delete(actor=request.user, org=self.organization, provider=provider)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SamlMetadataImportSerializer(StrictSerializer):
    metadata_xml = serializers.CharField(required=False, allow_blank=True, default="", max_length=1_000_000)
    metadata_url = serializers.URLField(required=False, allow_blank=True, default="", max_length=500)

    def validate(self, data):
        if bool(data["metadata_xml"]) == bool(data["metadata_url"]):
            raise serializers.ValidationError(
                {"non_field_errors": ["Give the IdP's metadata XML or its metadata URL (one of the two)."]}
            )
        return data


@extend_schema(
    summary="Import a SAML identity provider's metadata (pasted XML, or a URL kept for the daily refresh)",
    request=SamlMetadataImportSerializer,
    responses=IdentityProviderSerializer,
    parameters=[ORG_SLUG],
)
class SamlMetadataImportView(OrgScopedViewSet):
    permission_classes = [IsAuthenticated, HasPerm.of(POST=SSO_MANAGE)]
    queryset = IdentityProvider.objects.all()
    serializer_class = IdentityProviderSerializer

    def scoped_queryset(self):
        return IdentityProvider.objects.all()

    def create(self, request, *args, **kwargs):
        provider = self.get_object()  # another organization's provider is a 404 before the step-up question
        require_recent_verification(request)
        data = SamlMetadataImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            provider = saml.metadata_import(actor=request.user, provider=provider, **data.validated_data)
        except saml.MetadataError as exc:
            field = "metadata_url" if data.validated_data["metadata_url"] else "metadata_xml"
            if provider.kind != saml.KIND:
                field = "non_field_errors"
            raise drf_exceptions.ValidationError({field: [str(exc)]}) from None
        return Response(IdentityProviderSerializer(provider).data)


# --- Enforcement ---------------------------------------------------------------------------------------------


class SsoEnforcementSerializer(serializers.Serializer):
    sso_enforced = serializers.BooleanField()
    break_glass = serializers.ListField(child=serializers.IntegerField(), help_text="User ids of break-glass owners.")


class SsoEnforcementUpdateSerializer(StrictSerializer):
    sso_enforced = serializers.BooleanField(required=False)
    break_glass = serializers.ListField(
        child=serializers.IntegerField(), required=False, max_length=100,
        help_text="The complete list of break-glass owners' user ids (owners only).",
    )  # fmt: skip


@extend_schema_view(
    list=extend_schema(summary="Show SSO enforcement", parameters=[ORG_SLUG], responses=SsoEnforcementSerializer),
    partial_update=extend_schema(
        summary="Change SSO enforcement and break-glass owners",
        parameters=[ORG_SLUG],
        request=SsoEnforcementUpdateSerializer,
        responses=SsoEnforcementSerializer,
    ),
)
class SsoEnforcementViewSet(OrgScopedViewSet):
    permission_classes = [IsAuthenticated, HasPerm.of(GET=SSO_MANAGE, PATCH=SSO_MANAGE), RecentlyVerified]
    queryset = Membership.objects.none()  # the organization itself is the resource (for the schema only)
    serializer_class = SsoEnforcementSerializer
    pagination_class = None

    def scoped_queryset(self):
        return Membership.objects.all()

    def _data(self, org) -> dict:
        glass = Membership.objects.filter(organization=org, sso_break_glass=True).values_list("user_id", flat=True)
        return {"sso_enforced": org.sso_enforced, "break_glass": sorted(glass)}

    def list(self, request, *args, **kwargs):
        return Response(self._data(self.organization))

    def partial_update(self, request, *args, **kwargs):
        data = SsoEnforcementUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        wanted = data.validated_data.get("break_glass")
        changes = None
        if wanted is not None:
            current = set(self._data(self.organization)["break_glass"])
            changes = dict.fromkeys(current - set(wanted), False) | dict.fromkeys(wanted, True)
        org = sso.sso_enforcement_update(
            actor=request.user,
            org=self.organization,
            sso_enforced=data.validated_data.get("sso_enforced"),
            break_glass=changes,
        )
        return Response(self._data(org))


# --- E-mail domains proven by DNS ------------------------------------------------------------------------------


class DomainClaimSerializer(serializers.ModelSerializer):
    record_name = serializers.CharField(read_only=True, help_text="Publish a TXT record at this name...")
    record_value = serializers.CharField(read_only=True, help_text="...with this value, then call verify.")

    class Meta:
        model = DomainClaim
        fields = [
            "id", "domain", "status", "record_name", "record_value", "verified_at", "last_checked_at", "last_error",
            "created",
        ]  # fmt: skip
        read_only_fields = fields


class DomainClaimCreateSerializer(StrictSerializer):
    domain = serializers.CharField(max_length=253)


@extend_schema_view(
    list=extend_schema(summary="List the organization's e-mail domain claims", parameters=[ORG_SLUG]),
    retrieve=extend_schema(summary="Show a domain claim and the TXT record to publish", parameters=[ORG_SLUG]),
    create=extend_schema(
        summary="Claim an e-mail domain (needs step-up); publish the TXT record it names, then verify",
        request=DomainClaimCreateSerializer, responses={201: DomainClaimSerializer}, parameters=[ORG_SLUG],
    ),
    verify=extend_schema(
        summary="Look up the claim's TXT record now", request=None, responses=DomainClaimSerializer,
        parameters=[ORG_SLUG],
    ),
    destroy=extend_schema(summary="Release a domain claim (needs step-up)", parameters=[ORG_SLUG]),
)  # fmt: skip
class DomainClaimViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    permission_classes = [IsAuthenticated, HasPerm.of(GET=SSO_MANAGE, POST=SSO_MANAGE, DELETE=SSO_MANAGE)]
    queryset = DomainClaim.objects.all()
    serializer_class = DomainClaimSerializer
    pagination_class = None  # a handful per organization

    def scoped_queryset(self):
        return DomainClaim.objects.all()

    def create(self, request, *args, **kwargs):
        require_recent_verification(request)
        data = DomainClaimCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        claim = domains.domain_claim_create(actor=request.user, org=self.organization, **data.validated_data)
        return Response(DomainClaimSerializer(claim).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def verify(self, request, *args, **kwargs):
        claim = domains.domain_claim_verify(actor=request.user, org=self.organization, claim=self.get_object())
        return Response(DomainClaimSerializer(claim).data)

    def destroy(self, request, *args, **kwargs):
        claim = self.get_object()
        require_recent_verification(request)
        domains.domain_claim_delete(actor=request.user, org=self.organization, claim=claim)
        return Response(status=status.HTTP_204_NO_CONTENT)
