"""The caller's second factors, and the organization's security policy, MFA resets and invitations."""

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from django_otp.plugins.otp_totp.models import TOTPDevice
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import Throttled
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.auth import (
    TOTP_START,
    WEBAUTHN_OPTIONS_DOC,
    ConfirmTotpSerializer,
    WebAuthnCredentialSerializer,
    totp_start_data,
)
from accounts.models import Invitation, Membership, Organization, RecoveryCodeDevice, WebAuthnDevice
from accounts.permissions import ORG_VIEW
from accounts.services import invitation_create, invitation_revoke, mfa, webauthn
from accounts.stepup import RecentlyVerified, require_recent_verification
from chatapp.kernel.api import ORG_SLUG, OrgScopedViewSet, StrictSerializer
from rbac.permissions import MEMBERS_INVITE
from rbac.services import require_perm

RECOVERY_CODES = inline_serializer("RecoveryCodes", {"recovery_codes": serializers.ListField()})


class DeviceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField()
    name = serializers.CharField()
    last_used_at = serializers.DateTimeField(allow_null=True)


class MyMfaSerializer(serializers.Serializer):
    devices = DeviceSerializer(many=True)
    recovery_codes_remaining = serializers.IntegerField()
    required = serializers.BooleanField(help_text="Whether an organization requires a second factor of you.")
    enrol_by = serializers.DateTimeField(allow_null=True, help_text="The end of your enrolment grace period.")


class MyMfaView(APIView):
    """GET what protects the caller's account; DELETE one device (needs a recent verification)."""

    @extend_schema(summary="My second factors", responses=MyMfaSerializer)
    def get(self, request):
        user = request.user
        devices = [
            {"id": d.pk, "type": "totp" if isinstance(d, TOTPDevice) else "webauthn", "name": d.name,
             "last_used_at": d.last_used_at}
            for d in mfa.second_factors(user)
        ]  # fmt: skip
        recovery = RecoveryCodeDevice.objects.filter(user=user, confirmed=True).first()
        requirement = mfa.mfa_requirement(user)
        return Response(
            MyMfaSerializer(
                {
                    "devices": devices,
                    "recovery_codes_remaining": recovery.remaining if recovery else 0,
                    "required": requirement.action != "none" or requirement.enrol_by is not None,
                    "enrol_by": requirement.enrol_by,
                }
            ).data
        )


class MyDeviceView(APIView):
    permission_classes = (RecentlyVerified,)

    @extend_schema(summary="Remove one of my second factors", responses={204: None})
    def delete(self, request, kind: str, pk: int):
        model = {"totp": TOTPDevice, "webauthn": WebAuthnDevice}.get(kind)
        if model is None:
            return Response(status=status.HTTP_404_NOT_FOUND)
        device = get_object_or_404(model, user=request.user, pk=pk, confirmed=True)
        mfa.mfa_device_remove(user=request.user, device=device)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MyTotpView(APIView):
    """Adding an authenticator changes how the account is protected: it needs a recent verification."""

    permission_classes = (RecentlyVerified,)

    @extend_schema(summary="Start adding an authenticator app", request=None, responses=TOTP_START)
    def post(self, request):
        return Response(totp_start_data(request.user))


class MyTotpConfirmView(APIView):
    permission_classes = (RecentlyVerified,)

    @extend_schema(summary="Confirm a new authenticator app with a code from it", request=ConfirmTotpSerializer,
                   responses=RECOVERY_CODES)  # fmt: skip
    def post(self, request):
        data = ConfirmTotpSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            codes = mfa.totp_enrol_confirm(user=request.user, **data.validated_data)
        except mfa.MfaThrottled as exc:
            raise Throttled(wait=exc.wait, detail=str(exc)) from None
        mfa.mark_verified(request, device=TOTPDevice.objects.get(pk=data.validated_data["device_id"]))
        return Response({"recovery_codes": codes or []})


class WebAuthnRegisterSerializer(WebAuthnCredentialSerializer):
    name = serializers.CharField(max_length=64, required=False, allow_blank=True,
                                 help_text='How you will recognise the key, e.g. "YubiKey on my keyring".')  # fmt: skip


class MyWebAuthnBeginView(APIView):
    """Adding a security key changes how the account is protected: it needs a recent verification."""

    permission_classes = (RecentlyVerified,)

    @extend_schema(summary="Start adding a security key or passkey", request=None, responses=OpenApiTypes.OBJECT,
                   description=WEBAUTHN_OPTIONS_DOC % "create")  # fmt: skip
    def post(self, request):
        return Response(webauthn.webauthn_register_begin(session=request.session, user=request.user))


class MyWebAuthnFinishView(APIView):
    permission_classes = (RecentlyVerified,)

    @extend_schema(
        summary="Register the new security key with the browser's response",
        request=WebAuthnRegisterSerializer,
        responses=inline_serializer(
            "WebAuthnRegistered", {"device": DeviceSerializer(), "recovery_codes": serializers.ListField()}
        ),
    )
    def post(self, request):
        data = WebAuthnRegisterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device, codes = webauthn.webauthn_register_finish(session=request.session, user=request.user,
                                                          **data.validated_data)  # fmt: skip
        mfa.mark_verified(request, device=device)
        body = {"id": device.pk, "type": "webauthn", "name": device.name, "last_used_at": device.last_used_at}
        return Response({"device": DeviceSerializer(body).data, "recovery_codes": codes})


class MyRecoveryCodesView(APIView):
    permission_classes = (RecentlyVerified,)

    @extend_schema(summary="Generate new recovery codes (the old ones stop working)", request=None,
                   responses=RECOVERY_CODES)  # fmt: skip
    def post(self, request):
        return Response({"recovery_codes": mfa.recovery_codes_regenerate(user=request.user)})


# --- Organization --------------------------------------------------------------------------------------------


class SecurityPolicySerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["mfa_policy", "mfa_grace_days", "mfa_policy_since", "step_up_minutes"]
        read_only_fields = ["mfa_policy_since"]


class SecurityPolicyInput(StrictSerializer):
    mfa_policy = serializers.ChoiceField(choices=Organization.MfaPolicy.choices, required=False)
    mfa_grace_days = serializers.IntegerField(min_value=0, max_value=90, required=False)
    step_up_minutes = serializers.IntegerField(min_value=1, max_value=1440, required=False)


@extend_schema_view(
    list=extend_schema(summary="The organization's security policy", parameters=[ORG_SLUG],
                       responses=SecurityPolicySerializer),
    partial_update=extend_schema(summary="Change the organization's security policy", parameters=[ORG_SLUG],
                                 request=SecurityPolicyInput, responses=SecurityPolicySerializer),
)  # fmt: skip
class SecurityPolicyViewSet(OrgScopedViewSet):
    queryset = Organization.objects.all()
    serializer_class = SecurityPolicySerializer

    def scoped_queryset(self):
        return Organization.objects.filter(pk=self.organization.pk)

    def list(self, request, org_slug):
        require_perm(user=request.user, org=self.organization, perm=ORG_VIEW)
        return Response(SecurityPolicySerializer(self.organization).data)

    def partial_update(self, request, org_slug):
        require_recent_verification(request)
        data = SecurityPolicyInput(data=request.data)
        data.is_valid(raise_exception=True)
        org = mfa.security_policy_update(actor=request.user, org=self.organization, **data.validated_data)
        return Response(SecurityPolicySerializer(org).data)


class MemberMfaResetViewSet(OrgScopedViewSet):
    queryset = Membership.objects.all()

    def scoped_queryset(self):
        return Membership.objects.filter(organization=self.organization)

    @extend_schema(
        summary="Reset a member's second factors (they enrol again at their next login)",
        parameters=[ORG_SLUG],
        request=None,
        responses=inline_serializer("MfaReset", {"devices_removed": serializers.IntegerField()}),
    )
    @action(detail=True, methods=["post"])
    def reset(self, request, org_slug, pk):
        require_recent_verification(request)
        membership = get_object_or_404(self.scoped_queryset(), user_id=pk)
        user = get_user_model().objects.get(pk=membership.user_id)
        removed = mfa.mfa_reset(actor=request.user, org=self.organization, user=user)
        return Response({"devices_removed": removed})


class InvitationSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "status", "created", "expires_at", "accepted_at"]
        read_only_fields = fields

    def get_status(self, invitation) -> str:
        if invitation.accepted_at:
            return "accepted"
        if invitation.revoked_at:
            return "revoked"
        return "open" if invitation.is_open else "expired"


class InvitationInput(StrictSerializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Membership.Role.choices, default=Membership.Role.MEMBER)


@extend_schema_view(
    list=extend_schema(summary="List invitations", parameters=[ORG_SLUG]),
    create=extend_schema(summary="Invite someone by e-mail", parameters=[ORG_SLUG], request=InvitationInput),
    destroy=extend_schema(summary="Revoke an open invitation", parameters=[ORG_SLUG]),
)
class InvitationViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, OrgScopedViewSet):
    queryset = Invitation.objects.all()
    serializer_class = InvitationSerializer

    def scoped_queryset(self):
        require_perm(user=self.request.user, org=self.organization, perm=MEMBERS_INVITE)
        return Invitation.objects.filter(organization=self.organization)

    def create(self, request, org_slug):
        data = InvitationInput(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = invitation_create(
            actor=request.user, org=self.organization, base_url=request.build_absolute_uri("/"), **data.validated_data
        )
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, org_slug, pk):
        invitation_revoke(actor=request.user, org=self.organization, invitation=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
