"""Password login, shared by allauth's browser pages and the JSON API: lockout, audit and what comes next."""

from django.contrib.auth import authenticate
from django.db import transaction

from accounts import audit_events as events
from accounts.models import User
from audit.models import ActorType, Outcome
from audit.services import Actor, audit_record


def login_failed(request, *, email: str, reason: str = "") -> None:
    """Record a refused login (the reason is for the audit trail only: the client hears the same for all)."""
    reason = reason or _failure_reason(email)
    locked = bool(getattr(request, "axes_locked_out", False))
    with transaction.atomic():
        audit_record(
            org=None, event=events.LOGIN_LOCKED_OUT if locked else events.LOGIN_FAILED,
            actor=Actor(ActorType.USER, "", (email or "")[:254]), outcome=Outcome.DENIED if locked else Outcome.FAILURE,
            metadata={"reason": "locked_out" if locked else reason},
        )  # fmt: skip


def login_succeeded(request, *, user: User, methods: list[str]) -> None:
    with transaction.atomic():
        audit_record(org=None, event=events.LOGIN_SUCCEEDED, actor=user, target=user, metadata={"methods": methods})
    from analytics import events as analytics_events
    from analytics.tracking import track_for_memberships

    track_for_memberships(analytics_events.USER_LOGGED_IN, user=user, properties={"methods": methods})


def password_check(request, *, email: str, password: str) -> User | None:
    """The user these credentials name, or None (recorded). django-axes refuses locked-out pairs before hashing.

    `request` must be Django's HttpRequest (not DRF's wrapper): axes marks a lockout on it for its middleware.
    Raises SsoRequired (403, recorded) before any password is checked when the organization enforces SSO for
    this address (accounts.services.sso.password_login_check).
    """
    from accounts.services.sso import password_login_check

    password_login_check(request, email=email)
    user = authenticate(request, email=email, password=password)
    if user is None:
        login_failed(request, email=email)
    return user


def _failure_reason(email: str) -> str:
    user = User.objects.filter(email__iexact=email).only("is_active").first()
    if user is None:
        return "unknown_user"
    return "inactive_user" if not user.is_active else "wrong_password"


def lockout_clear(*, actor: User, user: User) -> int:
    """Lift the login lockouts of an account (every address) before the cool-off ends; recorded."""
    from axes.utils import reset

    with transaction.atomic():
        cleared = reset(username=user.email.lower())
        audit_record(org=None, event=events.LOCKOUT_CLEARED, actor=actor, target=user, metadata={"cleared": cleared})
    return cleared
