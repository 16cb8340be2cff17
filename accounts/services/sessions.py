"""Login sessions: register, touch, expire by organization policy, revoke; and revoking every credential.

A UserSession row mirrors one Django session (same key). Revoking deletes the Django session itself through
the session engine, so the next request with that cookie is anonymous (401 in the API) whatever the engine.
"""

from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from accounts import audit_events as events
from accounts.models import ApiKey, Membership, Organization, User, UserSession
from accounts.permissions import MEMBERS_MANAGE
from audit.services import Target, audit_record
from rbac.roles import BUILT_IN_ROLE_PERMISSIONS
from rbac.services import require_held, require_perm


def _engine():
    return import_module(settings.SESSION_ENGINE).SessionStore


def session_policy_of(*, user: User) -> tuple[int | None, int | None]:
    """(idle seconds, absolute seconds) for the user: the strictest among their active organizations."""
    limits = Organization.objects.filter(memberships__user=user, memberships__is_active=True, is_active=True).aggregate(
        idle=Min("session_idle_timeout_minutes"), absolute=Min("session_max_lifetime_hours")
    )
    idle, absolute = limits["idle"], limits["absolute"]
    return (idle * 60 if idle else None, absolute * 3600 if absolute else None)


def session_register(*, session_key: str, user: User, ip: str | None, user_agent: str, now=None) -> UserSession:
    """Start tracking a freshly logged-in session (the middleware calls it after the login response)."""
    now = now or timezone.now()
    row, _ = UserSession.objects.update_or_create(
        session_key=session_key,
        defaults={"user": user, "ip": ip, "user_agent": user_agent[:512], "created_at": now, "last_activity": now},
    )
    return row


def session_touch(*, session_key: str, ip: str | None, now=None) -> None:
    UserSession.objects.filter(session_key=session_key).update(last_activity=now or timezone.now(), ip=ip)


def session_forget(*, session_key: str) -> None:
    """The session ended by itself (logout, re-login): drop its row, nothing to audit."""
    UserSession.objects.filter(session_key=session_key).delete()


def _end(row: UserSession) -> None:
    _engine()(session_key=row.session_key).delete()
    row.delete()


@transaction.atomic
def session_expire(*, session_key: str, user: User, reason: str) -> None:
    """The organization policy ended this session (idle or absolute limit); the caller logs the request out."""
    UserSession.objects.filter(session_key=session_key).delete()
    audit_record(org=None, event=events.SESSION_EXPIRED, actor=None, target=user, metadata={"reason": reason})


@transaction.atomic
def session_revoke(*, actor: User, session: UserSession, org: Organization | None = None) -> None:
    """End one session now. `session` must come from a selector scoped to what the actor may see."""
    user = session.user
    _end(session)
    audit_record(
        org=org, event=events.SESSION_REVOKED, actor=actor, target=user,
        metadata={"session_id": session.pk, "user_agent": session.user_agent[:120]},
    )  # fmt: skip


@transaction.atomic
def sessions_revoke_others(*, user: User, keep_session_key: str | None) -> int:
    """End every session of the user but the current one."""
    rows = list(UserSession.objects.filter(user=user).exclude(session_key=keep_session_key or ""))
    for row in rows:
        session_revoke(actor=user, session=row)
    return len(rows)


@transaction.atomic
def member_sessions_revoke(*, actor: User, org: Organization, membership: Membership) -> int:
    """An organization admin ends every session of one member (e.g. a lost laptop). Needs members.manage and,
    as for changing the membership, every permission of the member's role (an admin cannot log out an owner)."""
    require_perm(user=actor, org=org, perm=MEMBERS_MANAGE)
    require_held(
        actor=actor, org=org, codes=BUILT_IN_ROLE_PERMISSIONS[membership.role], doing="end this member's sessions"
    )
    rows = list(UserSession.objects.filter(user_id=membership.user_id).select_related("user"))
    for row in rows:
        session_revoke(actor=actor, session=row, org=org)
    return len(rows)


@transaction.atomic
def credentials_revoke_all(*, user: User, reason: str, actor=None, keep_session_key: str | None = None) -> dict:
    """End every session and revoke every working API key of `user` (password change, deactivation, MFA reset).

    `keep_session_key` spares the session that made the change (a user changing their own password stays
    logged in there). Keys are revoked on their own organization's audit chain; one platform event sums up.
    """
    from accounts.services.api_keys import _revoke

    now = timezone.now()
    sessions = list(UserSession.objects.filter(user=user).exclude(session_key=keep_session_key or ""))
    for row in sessions:
        _end(row)
    keys = (
        ApiKey.objects.select_for_update()
        .select_related("organization")
        .filter(owner=user, revoked_at__isnull=True, expires_at__gt=now)
    )
    revoked = 0
    for key in keys:
        _revoke(key, actor=actor, reason=reason, now=now)
        revoked += 1
    audit_record(
        org=None, event=events.CREDENTIALS_REVOKED, actor=actor, target=Target.of(user),
        metadata={"reason": reason[:200], "sessions": len(sessions), "api_keys": revoked},
    )  # fmt: skip
    return {"sessions": len(sessions), "api_keys": revoked}


def sessions_of(*, user: User):
    return UserSession.objects.filter(user=user)


def sessions_clean(*, now=None) -> int:
    """Drop rows whose Django session is gone or past its expiry (beat, daily). Safe to run twice."""
    from django.contrib.sessions.models import Session

    now = now or timezone.now()
    database_backed = ("django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db")
    if settings.SESSION_ENGINE not in database_backed:
        cutoff = now - timedelta(seconds=settings.SESSION_COOKIE_AGE)
        return UserSession.objects.filter(last_activity__lt=cutoff).delete()[0]
    live = Session.objects.filter(expire_date__gt=now).values("session_key")
    return UserSession.objects.exclude(session_key__in=live).delete()[0]
