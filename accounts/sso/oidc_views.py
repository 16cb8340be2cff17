"""Browser pages of OIDC / OAuth 2.0 logins: /accounts/oidc/<org>/<provider>/{login,callback}/.

The login page starts a flow and remembers its state, nonce and PKCE verifier in this browser's session (so a
callback only completes a login this browser started); the callback consumes that entry once, whatever happens.
Every refusal is audited through sso_callback_refused (counted towards the client address's failure limit) and
answered with the failure page and a 4xx (502 when the IdP cannot be reached), never a 500.
"""

import logging
import time

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.auth.sso import sso_throttled_page
from accounts.models import IdentityProvider
from accounts.services.sso import SsoIdentity, SsoRefused, sso_callback_refused, sso_login, sso_throttled
from accounts.sso import oidc_client
from accounts.sso.oidc import settings_for
from accounts.sso.oidc_client import OidcError
from accounts.sso.oidc_events import OIDC_KEYS_REFETCHED
from audit.services import Actor, audit_record

logger = logging.getLogger(__name__)

SESSION_KEY = "chatapp_oidc_pending"
PENDING_MAX = 5  # a few tabs may start logins at once; older ones are dropped
PENDING_TTL = 600  # seconds a person may spend at the IdP


def _provider(org_slug: str, provider_slug: str) -> IdentityProvider:
    provider = (
        IdentityProvider.objects.select_related("organization")
        .filter(organization__slug=org_slug, slug=provider_slug, kind=IdentityProvider.Kind.OIDC)
        .first()
    )
    if provider is None:
        raise Http404("No such sign-in method.")
    return provider


def _disabled(provider) -> bool:
    return not provider.enabled or not provider.organization.is_active


def _callback_uri(request, provider) -> str:
    return request.build_absolute_uri(reverse("oidc_callback", args=[provider.organization.slug, provider.slug]))


def _refused(request, provider, *, reason: str, message: str, status: int, detail: str = "", email: str = ""):
    sso_callback_refused(request, provider=provider, reason=reason, email=email, detail=detail)
    return _page(request, provider, message, status)


def _page(request, provider, message: str, status: int):
    context = {
        "provider": provider,
        "message": message,
        "retry_url": reverse("oidc_login", args=[provider.organization.slug, provider.slug]),
    }
    return render(request, "accounts/oidc_failed.html", context, status=status)


@never_cache
@require_GET
def oidc_login(request, organization: str, provider: str):
    provider = _provider(organization, provider)
    if _disabled(provider):
        raise Http404("No such sign-in method.")  # nothing to audit: no login was attempted
    try:
        start = oidc_client.begin(settings_for(provider), redirect_uri=_callback_uri(request, provider))
    except OidcError as exc:
        return _refused(request, provider, reason=exc.reason, message=exc.message, status=exc.status, detail=exc.detail)
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, require_https=request.is_secure()):
        next_url = ""
    pending = dict(request.session.get(SESSION_KEY, {}))
    pending[start.state] = {
        "provider": provider.pk,
        "nonce": start.nonce,
        "verifier": start.code_verifier,
        "at": time.time(),
        "next": next_url,
    }
    request.session[SESSION_KEY] = dict(sorted(pending.items(), key=lambda kv: kv[1]["at"])[-PENDING_MAX:])
    return redirect(start.url)


@never_cache
@require_GET
def oidc_callback(request, organization: str, provider: str):
    provider = _provider(organization, provider)
    if (retry_after := sso_throttled(request, provider=provider)) is not None:
        return sso_throttled_page(request, provider, retry_after)
    if _disabled(provider):  # switched off while the person was at the IdP
        message = "This sign-in method is turned off. Ask your administrator."
        return _refused(request, provider, reason="provider_disabled", status=403, message=message)
    pending = dict(request.session.get(SESSION_KEY, {}))
    entry = pending.pop(request.GET.get("state", ""), None)  # consumed whatever happens next: one try per state
    request.session[SESSION_KEY] = pending
    if entry is None or entry.get("provider") != provider.pk:
        return _refused(
            request,
            provider,
            reason="bad_state",
            status=400,
            message="This sign-in was not started from this browser, or was already used. Start again.",
        )
    if time.time() - entry["at"] > PENDING_TTL:
        return _refused(
            request,
            provider,
            reason="expired",
            status=400,
            message="The sign-in took too long and expired. Start again.",
        )
    if "error" in request.GET:
        error = request.GET["error"][:64]
        return _refused(
            request,
            provider,
            reason="idp_error",
            status=400,
            detail=error,
            message=f"{provider.name} did not sign you in ({error}).",
        )
    code = request.GET.get("code", "")
    if not code:
        return _refused(
            request,
            provider,
            reason="invalid_response",
            status=400,
            detail="no code",
            message=f"{provider.name} sent no sign-in code. Start again.",
        )

    def keys_refetched():
        with transaction.atomic():
            audit_record(
                org=provider.organization, event=OIDC_KEYS_REFETCHED, actor=Actor.system("sso.oidc"), target=provider
            )

    try:
        result = oidc_client.complete(
            settings_for(provider), code=code, redirect_uri=_callback_uri(request, provider),
            nonce=entry["nonce"], verifier=entry["verifier"], attribute_map=provider.attribute_map or {},
            on_refetch=keys_refetched,
        )  # fmt: skip
    except OidcError as exc:
        logger.info("oidc login refused", extra={"provider": provider.pk, "reason": exc.reason})
        return _refused(request, provider, reason=exc.reason, message=exc.message, status=exc.status, detail=exc.detail)
    except Exception:
        # The IdP's answers are untrusted input: a shape the checks did not foresee is still a refused sign-in
        # with a clear page, not a 500 (and the traceback goes to the logs to be fixed).
        logger.exception("oidc login failed unexpectedly", extra={"provider": provider.pk})
        message = f"{provider.name} sent an answer we could not understand. Start again."
        return _refused(request, provider, reason="invalid_response", status=400, detail="unexpected", message=message)
    identity = SsoIdentity(
        subject=result.subject, email=result.email, full_name=result.full_name, groups=result.groups,
        attributes={k: v for k, v in result.claims.items() if k in ("sub", "iss", "login", "hd", "tid")},
    )  # fmt: skip
    try:
        sso_login(request, provider=provider, identity=identity)  # audits its own refusals
    except SsoRefused as refused:
        return _page(request, provider, refused.message, 403)
    return redirect(entry.get("next") or settings.LOGIN_REDIRECT_URL)
