"""Step-up: sensitive actions (API keys, roles, SSO settings, exports) need a recent check of the caller.

A browser or API session passes when its user passed their strongest check (a second factor, or the
password for users without one) within the step-up window: the shortest of MFA_STEP_UP_MINUTES and their
organizations' own. POST /api/v1/auth/reverify (or the /accounts/reverify/ page) renews it. Requests made
with an API key are not sessions: keys are scoped and were created under step-up, so they pass.
"""

from rest_framework.permissions import BasePermission

from accounts.services.mfa import recently_verified, step_up_window
from chatapp.kernel.errors import ProblemException


class StepUpRequired(ProblemException):
    status_code = 403
    problem_slug = "step-up-required"
    problem_title = "Recent verification required"


def require_recent_verification(request) -> None:
    """Raise StepUpRequired (403) unless this session's user was checked within the step-up window."""
    if getattr(request, "auth", None) is not None:
        return  # authenticated by an API key (DRF's request.auth), not by a session
    if not recently_verified(request):
        minutes = int(step_up_window(request.user).total_seconds() // 60)
        raise StepUpRequired(
            f"This action needs a verification from the last {minutes} minutes. "
            "Confirm with POST /api/v1/auth/reverify, then retry.",
            extra={"reverify": "/api/v1/auth/reverify"},
        )


class RecentlyVerified(BasePermission):
    """DRF permission for unsafe requests of sensitive endpoints (reads stay free)."""

    def has_permission(self, request, view):
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            require_recent_verification(request)
        return True
