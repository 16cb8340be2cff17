"""JSON login for API and mobile clients: password, then a second factor (or enrolment) when one is due.

    POST /api/v1/auth/session             {"email", "password"}  -> 200 the caller, or 401 mfa-required /
                                                                     mfa-enrolment-required (login pending)
    POST /api/v1/auth/session/mfa         {"code"}               -> 200 the caller (completes a pending login)
    POST /api/v1/auth/session/webauthn/begin  {}                 -> 200 options for navigator.credentials.get()
    POST /api/v1/auth/session/webauthn/finish {"credential"}     -> 200 the caller (completes a pending login)
    POST /api/v1/auth/session/mfa/totp    {}                     -> 200 a new authenticator secret + QR (pending
                                                                     enrolment)
    POST /api/v1/auth/session/mfa/totp/confirm {"device_id", "code"} -> 200 the caller + recovery codes
    DELETE /api/v1/auth/session                                  -> 204 log out
    POST /api/v1/auth/reverify            {"code"}, {"credential"} or {"password"} -> 204 (step-up)
    POST /api/v1/auth/reverify/webauthn   {}                     -> 200 options for a step-up with a security key

A pending login lives in the session for 5 minutes and is not a login: every other endpoint still answers 401.
Login needs no CSRF token: the body must be JSON, which a cross-site form cannot send.
"""

from allauth.account.internal.flows.email_verification import send_verification_email_for_user
from allauth.account.utils import has_verified_email
from django.contrib.auth import login, logout
from django.db import transaction
from django.middleware.csrf import get_token
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotAuthenticated, Throttled, ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import audit_events as events
from accounts.api.serializers import LoginSerializer, MeSerializer
from accounts.models import User
from accounts.selectors import memberships_of
from accounts.services import app_handoff, mfa, webauthn
from accounts.services.login import login_succeeded, password_check
from accounts.services.sso import LOGIN_BACKEND
from audit.services import audit_record
from chatapp.kernel.api import StrictSerializer
from chatapp.kernel.authentication import NoCredentials
from chatapp.kernel.errors import ProblemException
from chatapp.kernel.throttling import ScopedRateThrottle

PENDING_SESSION_KEY = "chatapp_pending_login"
PENDING_SECONDS = 300


def me_data(user):
    user.active_memberships = list(memberships_of(user=user))
    return MeSerializer(user).data


class CodeSerializer(StrictSerializer):
    code = serializers.CharField(max_length=64)


class ConfirmTotpSerializer(StrictSerializer):
    device_id = serializers.IntegerField()
    code = serializers.CharField(max_length=64)


class WebAuthnCredentialSerializer(StrictSerializer):
    credential = serializers.JSONField(help_text="The PublicKeyCredential from the browser, as JSON (base64url).")


class ReverifySerializer(StrictSerializer):
    code = serializers.CharField(max_length=64, required=False)
    credential = serializers.JSONField(required=False, help_text="A security key assertion (see reverify/webauthn).")
    password = serializers.CharField(max_length=1024, required=False, trim_whitespace=False)


def _mfa_problem(requirement, user) -> ProblemException:
    if requirement.action == "verify":
        return ProblemException(
            "Password accepted. Send a code from your authenticator app or a recovery code to "
            "POST /api/v1/auth/session/mfa (or use a security key: POST /api/v1/auth/session/webauthn/begin, "
            "then .../finish) within 5 minutes.",
            status_code=401, slug="mfa-required", title="Second factor required",
            extra={"methods": mfa.mfa_methods(user), "next": "/api/v1/auth/session/mfa"},
        )  # fmt: skip
    org = requirement.required_by
    return ProblemException(
        f"{org.name} requires two-step verification and the grace period has ended. Enrol an authenticator app "
        "with POST /api/v1/auth/session/mfa/totp, then confirm it, within 5 minutes.",
        status_code=401, slug="mfa-enrolment-required", title="Second factor enrolment required",
        extra={"next": "/api/v1/auth/session/mfa/totp"},
    )  # fmt: skip


def _pending_user(request) -> tuple[User, dict]:
    pending = request.session.get(PENDING_SESSION_KEY) or {}
    if not pending or timezone.now().timestamp() - pending.get("at", 0) > PENDING_SECONDS:
        request.session.pop(PENDING_SESSION_KEY, None)
        raise NotAuthenticated("No login is waiting for a second factor (or it expired). Log in again.")
    user = User.objects.filter(pk=pending["user"], is_active=True).first()
    if user is None:
        raise NotAuthenticated("Log in again.")
    return user, pending


def _complete(request, user, *, backend: str, methods: list[str], device=None) -> dict:
    request.session.pop(PENDING_SESSION_KEY, None)
    login(request, user, backend=backend)
    mfa.mark_verified(request, device=device)
    get_token(request)  # sets the csrftoken cookie that later unsafe requests must echo
    login_succeeded(request, user=user, methods=methods)
    return me_data(user)


@extend_schema(auth=[])  # no credentials before a login exists (and NoCredentials has no OpenAPI scheme)
class _AnonymousAuthView(APIView):
    """Views that run before a login exists: no authentication, a tight rate limit per address."""

    permission_classes = (AllowAny,)
    authentication_classes = (NoCredentials,)
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "login"


class SessionView(_AnonymousAuthView):
    def get_authenticators(self):
        # Logout (DELETE) goes through session authentication, and so needs the CSRF token.
        from chatapp.kernel.authentication import SessionAuthentication

        deleting = getattr(self.request, "method", None) == "DELETE"
        return [SessionAuthentication()] if deleting else super().get_authenticators()

    @extend_schema(
        summary="Log in with e-mail and password",
        request=LoginSerializer,
        responses={200: MeSerializer, 401: None},
        description="Answers 401 `mfa-required` or `mfa-enrolment-required` when a second step is due.",
    )
    def post(self, request):
        data = LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        request.session.pop(PENDING_SESSION_KEY, None)
        user = password_check(request._request, **data.validated_data)
        if user is None:
            raise ValidationError({"non_field_errors": ["Wrong e-mail address or password."]})
        if not has_verified_email(user, user.email):
            send_verification_email_for_user(request._request, user)
            raise ProblemException(
                f"Verify your e-mail address first: we sent a link to {user.email}.",
                status_code=403, slug="email-unverified", title="E-mail address not verified",
            )  # fmt: skip
        requirement = mfa.mfa_requirement(user)
        if requirement.action == "none":
            return Response(_complete(request, user, backend=user.backend, methods=["password"]))
        request.session[PENDING_SESSION_KEY] = {
            "user": user.pk, "at": timezone.now().timestamp(), "backend": user.backend, "action": requirement.action
        }  # fmt: skip
        raise _mfa_problem(requirement, user)

    @extend_schema(summary="Log out", request=None, responses={204: None})
    def delete(self, request):
        if request.user.is_authenticated:
            with transaction.atomic():
                audit_record(org=None, event=events.LOGGED_OUT, actor=request.user, target=request.user)
        logout(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _verify(user, code):
    try:
        return mfa.mfa_verify(user=user, code=code)
    except mfa.MfaThrottled as exc:
        raise Throttled(wait=exc.wait, detail=str(exc)) from None


class SessionMfaView(_AnonymousAuthView):
    @extend_schema(summary="Finish a pending login with a second factor", request=CodeSerializer,
                   responses=MeSerializer)  # fmt: skip
    def post(self, request):
        user, pending = _pending_user(request)
        data = CodeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if pending.get("action") != "verify":
            raise NotAuthenticated("This login needs an authenticator enrolment first.")
        device = _verify(user, data.validated_data["code"])
        if device is None:
            raise ValidationError({"code": ["That code is not valid."]})
        method = "recovery_code" if device._meta.model_name == "recoverycodedevice" else "totp"
        return Response(_complete(request, user, backend=pending["backend"], methods=["password", method],
                                  device=device))  # fmt: skip


WEBAUTHN_OPTIONS_DOC = (
    "PublicKeyCredential options as JSON, binary values in base64url: decode them and pass to "
    "navigator.credentials.%s(). The challenge is valid once, for 5 minutes."
)


class SessionWebAuthnBeginView(_AnonymousAuthView):
    @extend_schema(summary="Start finishing a pending login with a security key", request=None,
                   responses=OpenApiTypes.OBJECT, description=WEBAUTHN_OPTIONS_DOC % "get")  # fmt: skip
    def post(self, request):
        user, pending = _pending_user(request)
        if pending.get("action") != "verify":
            raise NotAuthenticated("This login needs an authenticator enrolment first.")
        return Response(webauthn.webauthn_authenticate_begin(session=request.session, user=user))


class SessionWebAuthnFinishView(_AnonymousAuthView):
    @extend_schema(summary="Finish a pending login with a security key assertion",
                   request=WebAuthnCredentialSerializer, responses=MeSerializer)  # fmt: skip
    def post(self, request):
        user, pending = _pending_user(request)
        data = WebAuthnCredentialSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if pending.get("action") != "verify":
            raise NotAuthenticated("This login needs an authenticator enrolment first.")
        device = webauthn.webauthn_authenticate_finish(
            session=request.session, user=user, credential=data.validated_data["credential"]
        )
        return Response(_complete(request, user, backend=pending["backend"], methods=["password", "webauthn"],
                                  device=device))  # fmt: skip


TOTP_START = inline_serializer(
    "TotpEnrolment",
    {
        "device_id": serializers.IntegerField(),
        "secret": serializers.CharField(help_text="Base32, for typing into the app by hand."),
        "otpauth_uri": serializers.CharField(),
        "qr_svg": serializers.CharField(help_text="The otpauth URI as an SVG QR code."),
    },
)


def totp_start_data(user) -> dict:
    import base64

    device = mfa.totp_enrol_start(user=user)
    return {
        "device_id": device.pk,
        "secret": base64.b32encode(device.bin_key).decode().rstrip("="),
        "otpauth_uri": device.config_url,
        "qr_svg": mfa.totp_qr_svg(device),
    }


class SessionTotpView(_AnonymousAuthView):
    @extend_schema(summary="Start the authenticator enrolment a pending login needs", request=None,
                   responses=TOTP_START)  # fmt: skip
    def post(self, request):
        user, pending = _pending_user(request)
        if pending.get("action") != "enrol":
            raise NotAuthenticated("This login needs a code from your existing authenticator, not a new one.")
        return Response(totp_start_data(user))


class SessionTotpConfirmView(_AnonymousAuthView):
    @extend_schema(
        summary="Confirm the new authenticator and finish the pending login",
        request=ConfirmTotpSerializer,
        responses=inline_serializer(
            "LoginWithRecoveryCodes", {"user": MeSerializer(), "recovery_codes": serializers.ListField()}
        ),
    )
    def post(self, request):
        user, pending = _pending_user(request)
        data = ConfirmTotpSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            codes = mfa.totp_enrol_confirm(user=user, **data.validated_data)
        except mfa.MfaThrottled as exc:
            raise Throttled(wait=exc.wait, detail=str(exc)) from None
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device = TOTPDevice.objects.get(pk=data.validated_data["device_id"])
        me = _complete(request, user, backend=pending["backend"], methods=["password", "totp"], device=device)
        return Response({"user": me, "recovery_codes": codes or []})


class PasswordResetSerializer(StrictSerializer):
    email = serializers.EmailField()


class PasswordResetView(_AnonymousAuthView):
    """Mobile and API clients start a password reset: allauth e-mails the same link the browser page sends.

    The answer is 202 whatever the address, so the endpoint does not tell who has an account."""

    @extend_schema(summary="E-mail a password-reset link", request=PasswordResetSerializer, responses={202: None})
    def post(self, request):
        from allauth.account.forms import ResetPasswordForm

        data = PasswordResetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        form = ResetPasswordForm(data={"email": data.validated_data["email"]})
        if form.is_valid():
            form.save(request._request)
        return Response(status=status.HTTP_202_ACCEPTED)


class SsoHandoffSerializer(StrictSerializer):
    code = serializers.CharField(max_length=100)
    code_verifier = serializers.CharField(max_length=128)


class SsoHandoffView(_AnonymousAuthView):
    @extend_schema(
        summary="Exchange the one-time code of a browser SSO sign-in for the app's own session",
        request=SsoHandoffSerializer,
        responses={200: MeSerializer},
        description=(
            "The app opened `/accounts/sso/app/?redirect_uri=…&code_challenge=…&code_challenge_method=S256&state=…` "
            "in the system browser; after the sign-in the browser came back to `redirect_uri?code=…&state=…`. "
            "Post that code with the PKCE `code_verifier`: the answer sets the session and CSRF cookies, like "
            "`POST /api/v1/auth/session`. A code works once, for 60 seconds."
        ),
    )
    def post(self, request):
        data = SsoHandoffSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            user = app_handoff.handoff_redeem(**data.validated_data)
        except app_handoff.HandoffError as exc:
            raise ProblemException(
                str(exc), status_code=400, slug="invalid-handoff", title="The sign-in code cannot be used"
            ) from None
        # Not _complete: the app's session does not inherit a step-up; sensitive actions ask the app to reverify.
        login(request, user, backend=LOGIN_BACKEND)
        get_token(request)
        login_succeeded(request, user=user, methods=["sso", "app_handoff"])
        return Response(me_data(user))


class ReverifyView(APIView):
    """Step-up for a logged-in session: a second factor (or the password, for users without one)."""

    permission_classes = (IsAuthenticated,)
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "login"

    @extend_schema(summary="Confirm it is still you before a sensitive action", request=ReverifySerializer,
                   responses={204: None})  # fmt: skip
    def post(self, request):
        data = ReverifySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user
        if mfa.second_factors(user) and "credential" in data.validated_data:
            device = webauthn.webauthn_authenticate_finish(
                session=request.session, user=user, credential=data.validated_data["credential"]
            )
        elif mfa.second_factors(user):
            if "code" not in data.validated_data:
                raise ValidationError({"code": ["Send a code from your authenticator app or a recovery code."]})
            device = _verify(user, data.validated_data["code"])
            if device is None:
                raise ValidationError({"code": ["That code is not valid."]})
        else:
            if "password" not in data.validated_data:
                raise ValidationError({"password": ["Send your password."]})
            if password_check(request._request, email=user.email, password=data.validated_data["password"]) != user:
                raise ValidationError({"password": ["Wrong password."]})
            device = None
        mfa.mark_verified(request, device=device)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReverifyWebAuthnView(APIView):
    """The challenge for a step-up with a security key; the assertion goes to POST /api/v1/auth/reverify."""

    permission_classes = (IsAuthenticated,)
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "login"

    @extend_schema(summary="Start a step-up with a security key", request=None, responses=OpenApiTypes.OBJECT,
                   description=WEBAUTHN_OPTIONS_DOC % "get")  # fmt: skip
    def post(self, request):
        return Response(webauthn.webauthn_authenticate_begin(session=request.session, user=request.user))
