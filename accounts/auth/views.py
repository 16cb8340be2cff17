"""Browser pages for second factors: the login stage's check and enrolment, and the user's security page."""

from allauth.account.internal.flows.login import record_authentication
from allauth.account.internal.stagekit import stash_login
from allauth.account.stages import LoginStageController
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.exceptions import APIException, ValidationError

from accounts.auth.stages import MFA_STAGE
from accounts.models import RecoveryCodeDevice, WebAuthnDevice
from accounts.services import mfa, webauthn
from accounts.services.invitations import INVITATION_SESSION_KEY, invitation_accept, invitation_by_token

NEW_CODES_SESSION_KEY = "chatapp_new_recovery_codes"


def _first_message(exc: APIException) -> str:
    detail = exc.detail
    while isinstance(detail, dict | list):
        detail = next(iter(detail.values())) if isinstance(detail, dict) else detail[0]
    return str(detail)


def _stage_or_login(request):
    return LoginStageController.enter(request, MFA_STAGE)


def _complete_stage(request, stage, device, *, kind):
    record_authentication(request, stage.login.user, method="mfa", type=kind, id=device.pk)
    response = stage.exit()
    mfa.mark_verified(request, device=device)
    return response


@require_http_methods(["GET", "POST"])
def mfa_authenticate(request):
    """Second step of a password login: a code from the authenticator app, or a recovery code."""
    stage = _stage_or_login(request)
    if stage is None:
        return redirect("account_login")
    user = stage.login.user
    context = {"methods": mfa.mfa_methods(user), "error": ""}
    status = 200
    if request.method == "POST":
        try:
            device = mfa.mfa_verify(user=user, code=request.POST.get("code", ""))
        except mfa.MfaThrottled as exc:
            context["error"], status = str(exc), 429
        else:
            if device is not None:
                kind = "recovery_codes" if isinstance(device, RecoveryCodeDevice) else "totp"
                return _complete_stage(request, stage, device, kind=kind)
            context["error"], status = "That code is not valid. Try the current code from your app.", 400
    return render(request, "accounts/mfa_authenticate.html", context, status=status)


def _enrol(request, *, user, device_id_holder: dict, template_context: dict):
    """GET shows a QR code for a fresh device; POST confirms it with a code. Returns (response|None, device, codes)."""
    device = None
    if request.method == "POST":
        device_id = device_id_holder.get("totp_device")
        try:
            codes = mfa.totp_enrol_confirm(user=user, device_id=device_id or 0, code=request.POST.get("code", ""))
        except mfa.MfaThrottled as exc:
            template_context["error"] = str(exc)
        except APIException as exc:
            template_context["error"] = _first_message(exc)
        else:
            return TOTPDevice.objects.get(pk=device_id), codes
        device = TOTPDevice.objects.filter(pk=device_id, user=user, confirmed=False).first()
    if device is None:
        device = mfa.totp_enrol_start(user=user)
        device_id_holder["totp_device"] = device.pk
    template_context.update(device=device, qr_svg=mfa.totp_qr_svg(device), secret=_b32(device))
    return None, None


def _b32(device) -> str:
    import base64

    return base64.b32encode(device.bin_key).decode().rstrip("=")


@require_http_methods(["GET", "POST"])
def mfa_enrol_at_login(request):
    """An organization requires MFA and the grace period is over: enrol an authenticator app to finish logging in."""
    stage = _stage_or_login(request)
    if stage is None:
        return redirect("account_login")
    context = {"at_login": True, "error": ""}
    device, codes = _enrol(request, user=stage.login.user, device_id_holder=stage.state, template_context=context)
    if device is None:
        stash_login(request, stage.login)  # keeps the pending device's id in the login's stage state
        return render(request, "accounts/mfa_enrol.html", context, status=400 if context["error"] else 200)
    response = _complete_stage(request, stage, device, kind="totp")
    if codes:
        request.session[NEW_CODES_SESSION_KEY] = codes
        return redirect("mfa_recovery_codes")
    return response


@login_required
@require_http_methods(["GET", "POST"])
def totp_enrol(request):
    """Add an authenticator app from the security page (a change to how the account is protected: step-up)."""
    if not mfa.recently_verified(request):
        return redirect(f"/accounts/reverify/?next={request.path}")
    holder = request.session.setdefault("chatapp_totp_enrolment", {})
    context = {"at_login": False, "error": ""}
    device, codes = _enrol(request, user=request.user, device_id_holder=holder, template_context=context)
    request.session.modified = True
    if device is None:
        return render(request, "accounts/mfa_enrol.html", context, status=400 if context["error"] else 200)
    mfa.mark_verified(request, device=device)
    messages.success(request, "Your authenticator app is set up.")
    if codes:
        request.session[NEW_CODES_SESSION_KEY] = codes
        return redirect("mfa_recovery_codes")
    return redirect("security")


@login_required
@require_http_methods(["GET", "POST"])
def recovery_codes(request):
    """Show freshly issued codes once (GET), or issue a new set (POST, needs a recent check)."""
    if request.method == "POST":
        if not mfa.recently_verified(request):
            return redirect(f"/accounts/reverify/?next={request.path}")
        request.session[NEW_CODES_SESSION_KEY] = mfa.recovery_codes_regenerate(user=request.user)
        return redirect("mfa_recovery_codes")
    codes = request.session.pop(NEW_CODES_SESSION_KEY, None)
    if codes is None:
        return redirect("security")
    return render(request, "accounts/mfa_recovery_codes.html", {"codes": codes})


@login_required
def security(request):
    """The user's security page: second factors, recovery codes, and what their organizations require."""
    user = request.user
    context = {
        "totp_devices": TOTPDevice.objects.filter(user=user, confirmed=True),
        "webauthn_devices": WebAuthnDevice.objects.filter(user=user, confirmed=True),
        "recovery": RecoveryCodeDevice.objects.filter(user=user, confirmed=True).first(),
        "requirement": mfa.mfa_requirement(user),
    }
    return render(request, "accounts/security.html", context)


@login_required
@require_POST
def device_remove(request, kind, pk):
    if not mfa.recently_verified(request):
        return redirect("/accounts/reverify/?next=/accounts/security/")
    model = {"totp": TOTPDevice, "webauthn": WebAuthnDevice}.get(kind)
    device = model.objects.filter(user=request.user, pk=pk).first() if model else None
    if device is None:
        raise Http404("No such device.")
    mfa.mfa_device_remove(user=request.user, device=device)
    messages.success(request, "The device was removed.")
    return redirect("security")


# --- Security keys: JSON endpoints for accounts/static/accounts/webauthn.js -----------------------------------


def _json_error(message: str, status: int = 400, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def _json_body(request) -> dict:
    import json

    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ValidationError({"credential": ["Send a JSON object."]})
    return body


def _webauthn_json(handler):
    """POST only, and any refusal from the service as {"error": ...} with its status instead of an HTML page."""

    @require_POST
    def view(request, *args, **kwargs):
        try:
            return handler(request, *args, **kwargs)
        except APIException as exc:
            return _json_error(_first_message(exc), exc.status_code)

    view.__name__ = handler.__name__
    view.__doc__ = handler.__doc__
    return view


@_webauthn_json
def webauthn_login_begin(request):
    """Options for navigator.credentials.get() during a login's second step."""
    stage = _stage_or_login(request)
    if stage is None:
        return _json_error("No login is waiting for a second factor. Log in again.", 401, redirect="/accounts/login/")
    return JsonResponse(webauthn.webauthn_authenticate_begin(session=request.session, user=stage.login.user))


@_webauthn_json
def webauthn_login_finish(request):
    stage = _stage_or_login(request)
    if stage is None:
        return _json_error("No login is waiting for a second factor. Log in again.", 401, redirect="/accounts/login/")
    credential = _json_body(request).get("credential")
    user = stage.login.user
    device = webauthn.webauthn_authenticate_finish(session=request.session, user=user, credential=credential)
    response = _complete_stage(request, stage, device, kind="webauthn")
    return JsonResponse({"redirect": getattr(response, "url", "/")})


def _safe_next(request, target) -> str:
    from django.utils.http import url_has_allowed_host_and_scheme

    if not target or not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return "/accounts/security/"
    return target


@login_required
@_webauthn_json
def webauthn_reverify_begin(request):
    return JsonResponse(webauthn.webauthn_authenticate_begin(session=request.session, user=request.user))


@login_required
@_webauthn_json
def webauthn_reverify_finish(request):
    body = _json_body(request)
    device = webauthn.webauthn_authenticate_finish(session=request.session, user=request.user,
                                                   credential=body.get("credential"))  # fmt: skip
    mfa.mark_verified(request, device=device)
    return JsonResponse({"redirect": _safe_next(request, body.get("next"))})


@login_required
@_webauthn_json
def webauthn_register_begin(request):
    """Options for navigator.credentials.create(); adding a key needs a recent check, like any factor change."""
    if not mfa.recently_verified(request):
        return _json_error("Confirm it is you first.", 403, redirect="/accounts/reverify/?next=/accounts/security/")
    return JsonResponse(webauthn.webauthn_register_begin(session=request.session, user=request.user))


@login_required
@_webauthn_json
def webauthn_register_finish(request):
    if not mfa.recently_verified(request):
        return _json_error("Confirm it is you first.", 403, redirect="/accounts/reverify/?next=/accounts/security/")
    body = _json_body(request)
    device, codes = webauthn.webauthn_register_finish(
        session=request.session, user=request.user, credential=body.get("credential"), name=body.get("name", "")
    )
    mfa.mark_verified(request, device=device)
    messages.success(request, f"Your security key “{device.name}” is set up.")
    if codes:
        request.session[NEW_CODES_SESSION_KEY] = codes
        return JsonResponse({"redirect": "/accounts/mfa/recovery-codes/"})
    return JsonResponse({"redirect": "/accounts/security/"})


@login_required
@require_http_methods(["GET", "POST"])
def reverify(request):
    """Step-up: confirm it is still you (a second factor, or the password when you have none) before a
    sensitive action."""
    from django.contrib.auth import authenticate
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.GET.get("next") or request.POST.get("next") or "/accounts/security/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/accounts/security/"
    has_mfa = bool(mfa.second_factors(request.user))
    has_key = WebAuthnDevice.objects.filter(user=request.user, confirmed=True).exists()
    context = {"has_mfa": has_mfa, "has_key": has_key, "next": target, "error": ""}
    if request.method == "POST":
        try:
            if has_mfa:
                device = mfa.mfa_verify(user=request.user, code=request.POST.get("code", ""))
                ok = device is not None
            else:
                device = None
                ok = authenticate(request, email=request.user.email, password=request.POST.get("password", "")) == (
                    request.user
                )
        except mfa.MfaThrottled as exc:
            context["error"] = str(exc)
        else:
            if ok:
                mfa.mark_verified(request, device=device)
                return redirect(target)
            context["error"] = "That did not match. Try again."
    return render(request, "accounts/reverify.html", context, status=400 if context["error"] else 200)


def invitation(request, token):
    """An invitation link: accept it when logged in as the invited address, or sign up / log in first."""
    from allauth.account.adapter import get_adapter

    try:
        invitation = invitation_by_token(token)
    except APIException as exc:
        raise Http404(_first_message(exc)) from None
    if request.user.is_authenticated:
        if request.method == "POST":
            try:
                invitation_accept(user=request.user, token=token)
            except APIException as exc:
                messages.error(request, _first_message(exc))
                return redirect("security")
            messages.success(request, f"You joined {invitation.organization.name}.")
            return redirect("security")
        return render(request, "accounts/invitation.html", {"invitation": invitation})
    request.session[INVITATION_SESSION_KEY] = token
    # The link reached this inbox: signing up with that address needs no second verification e-mail.
    get_adapter().stash_verified_email(request, invitation.email)
    from accounts.models import User

    if User.objects.filter(email__iexact=invitation.email).exists():
        return redirect(f"/accounts/login/?next=/accounts/invitations/{token}/")
    return redirect(f"/accounts/signup/?next=/accounts/invitations/{token}/")
