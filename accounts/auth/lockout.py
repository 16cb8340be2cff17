"""django-axes hooks: which account and address a login attempt counts against, and the lockout answer."""

from django.conf import settings
from django.shortcuts import render

from audit.context import client_ip as audited_client_ip
from chatapp.kernel.errors import problem_response, problem_type


def username_of(request, credentials) -> str:
    """Attempts count against the e-mail address whatever its letter case (allauth and the API both send it)."""
    credentials = credentials or {}
    email = credentials.get("email") or credentials.get("username") or credentials.get("login") or ""
    return str(email).strip().lower()


def client_ip(request) -> str:
    # The same address the audit trail records, honouring AUDIT_TRUSTED_PROXIES.
    return audited_client_ip(request) or "0.0.0.0"  # noqa: S104 (an unknown address, not a bind)


def lockout_response(request, original_response=None, credentials=None):
    """429 with Retry-After: a problem document for API clients, a page for browsers."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    detail = (
        f"Too many failed logins for this account from your address. Try again in {seconds // 60} minutes, "
        "or ask an administrator to unlock it."
    )
    if request.path.startswith("/api/"):
        return problem_response(
            429, detail=detail, type_=problem_type("login-locked-out"), title="Login locked",
            headers={"Retry-After": str(seconds)},
        )  # fmt: skip
    response = render(request, "accounts/locked_out.html", {"detail": detail}, status=429)
    response["Retry-After"] = str(seconds)
    return response
