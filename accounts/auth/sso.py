"""The email-first login page: the address's domain picks the organization's identity provider or the password.

GET shows one e-mail field; POST answers from the domain alone (never from whether an account exists):
one SSO provider -> redirect to its start URL; several -> a choice; none, or only LDAP (whose passwords our
own form takes) -> the password page. `next` is carried along when it is a local URL.
"""

from urllib.parse import urlencode

from django import forms
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

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
