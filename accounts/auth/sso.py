"""The email-first login page: the address's domain picks the organization's identity provider or the password.

GET shows one e-mail field; POST answers from the domain alone (never from whether an account exists):
one SSO provider -> redirect to its start URL; several -> a choice; none, or only LDAP (whose passwords our
own form takes) -> the password page. `next` is carried along when it is a local URL.
"""

import json
from urllib.parse import urlencode, urlsplit

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.http.response import HttpResponseRedirectBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts.services import app_handoff
from accounts.services.sso import providers_for_email
from accounts.sso import kinds


class EmailForm(forms.Form):
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )


def _next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    return target if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) else ""


def _with_next(url: str, next_url: str) -> str:
    query = {"next": next_url} if next_url else {}
    return f"{url}{'&' if '?' in url else '?'}{urlencode(query)}" if query else url


@require_http_methods(["GET", "POST"])
def sso_start(request):
    next_url = _next(request)
    form = EmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        choices = [(p, url) for p in providers_for_email(email) if (url := kinds.login_url(p))]
        if len(choices) == 1:
            return redirect(_with_next(choices[0][1], next_url))
        if not choices:
            return redirect(_with_next(reverse("account_login"), next_url))
        links = [{"name": p.name, "url": _with_next(url, next_url)} for p, url in choices]
        return render(request, "accounts/sso_start.html", {"form": form, "choices": links, "next": next_url})
    status = 400 if form.errors else 200
    return render(request, "accounts/sso_start.html", {"form": form, "next": next_url}, status=status)


def sso_throttled_page(request, provider, retry_after: int):
    """429 for an SSO callback whose client address reached SSO_FAILURE_LIMIT (accounts.services.sso)."""
    context = {"provider": provider, "minutes": max(1, -(-retry_after // 60))}
    response = render(request, "accounts/sso_throttled.html", context, status=429)
    response["Retry-After"] = str(retry_after)
    return response


# --- Hand-off to a mobile or desktop app (accounts.services.app_handoff) ------------------------------------

# The app's request waits in a signed cookie of its own, not in the session: a SAML IdP posts the response to
# our ACS cross-site, without the Lax session cookie, so the sign-in starts a new session; the cookie comes back
# on the top-level GET to the finish page that follows.
APP_COOKIE = "chatapp_sso_app"
APP_COOKIE_SALT = "accounts.sso.app-handoff"


class _AppRedirect(HttpResponseRedirectBase):
    """A redirect to a registered app's custom scheme (Django allows only http, https and ftp by default)."""

    status_code = 302

    def __init__(self, url: str):
        self.allowed_schemes = [urlsplit(url).scheme]
        super().__init__(url)


def _app_error(request, message: str):
    response = render(request, "accounts/sso_app.html", {"error": message}, status=400)
    response.delete_cookie(APP_COOKIE)
    return response


@never_cache
@require_GET
def app_start(request):
    """The app opened this page in the system browser: remember its request, then sign in (email-first)."""
    try:
        pending = app_handoff.handoff_start(
            redirect_uri=request.GET.get("redirect_uri", ""),
            code_challenge=request.GET.get("code_challenge", ""),
            code_challenge_method=request.GET.get("code_challenge_method", ""),
            state=request.GET.get("state", ""),
        )
    except app_handoff.HandoffError as exc:
        return _app_error(request, str(exc))
    finish = reverse("sso_app_finish")
    response = redirect(finish if request.user.is_authenticated else _with_next(reverse("sso_start"), finish))
    response.set_signed_cookie(
        APP_COOKIE, json.dumps(pending.as_session()), salt=APP_COOKIE_SALT, max_age=app_handoff.PENDING_SECONDS,
        secure=request.is_secure(), httponly=True, samesite="Lax",
    )  # fmt: skip
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def app_finish(request):
    """Signed in: ask the person to confirm (a page somebody else's link cannot click for them), then send the
    browser back to the app with a one-time code and the app's state."""
    try:
        raw = request.get_signed_cookie(APP_COOKIE, salt=APP_COOKIE_SALT, max_age=app_handoff.PENDING_SECONDS)
        pending = json.loads(raw)
    except (KeyError, ValueError, signing.BadSignature):  # missing, forged, expired (SignatureExpired too)
        return _app_error(request, "No sign-in for an app is waiting in this browser. Start again from the app.")
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), login_url=reverse("sso_start"))
    if request.method == "GET":
        app = urlsplit(pending["redirect_uri"]).scheme
        return render(request, "accounts/sso_app.html", {"app": app, "user": request.user})
    try:
        code = app_handoff.handoff_code(user=request.user, pending=pending)
    except app_handoff.HandoffError as exc:
        return _app_error(request, str(exc))
    query = urlencode({"code": code, **({"state": pending["state"]} if pending["state"] else {})})
    uri = pending["redirect_uri"]
    response = _AppRedirect(f"{uri}{'&' if '?' in uri else '?'}{query}")
    response.delete_cookie(APP_COOKIE)
    return response
