"""Directory sync: bring an organization's members in line with its LDAP / Active Directory between logins.

For every active member whose address is in the provider's domains: a person gone from the directory (or
outside its user filter), disabled in Active Directory, outside the required groups or in a denied group is
deprovisioned (membership ended, sessions and API keys revoked, by the SSO core); the others get their name
and group-mapped teams and roles updated. Break-glass owners are left alone: they are the way in when the
directory is wrong.

Safe by construction: the directory is read completely before anything changes, so a directory that fails
half-way changes nothing; and a sync that finds none of the members at all stops, since that is far more
likely a wrong search base or filter than a company that let everyone go.
"""

import logging

from django.db import transaction

from accounts.models import IdentityProvider, Membership
from accounts.services import sso
from accounts.sso import ldap_events as events
from accounts.sso.ldap_backend import DirectoryUnavailable, directory_lookup
from audit.models import Outcome
from audit.services import Actor, audit_record

logger = logging.getLogger(__name__)


def _members(provider: IdentityProvider) -> list[Membership]:
    domains = set(provider.email_domains or [])
    members = Membership.objects.filter(organization=provider.organization, is_active=True, user__is_active=True)
    return [
        m
        for m in members.select_related("user").order_by("pk")
        if sso.email_domain(m.user.email) in domains and not (m.sso_break_glass and m.role == Membership.Role.OWNER)
    ]


def _record(provider, event, *, outcome=Outcome.SUCCESS, metadata: dict):
    with transaction.atomic():
        audit_record(
            org=provider.organization, event=event, actor=Actor.system(f"sso:{provider.slug}"), target=provider,
            outcome=outcome, metadata={"provider": provider.slug, **metadata},
        )  # fmt: skip


def ldap_sync(provider: IdentityProvider) -> dict:
    """Sync one LDAP provider; returns the counts recorded in ldap.sync_completed (or {"error": ...})."""
    members = _members(provider)
    try:
        entries = [(m, directory_lookup(provider, m.user.email)) for m in members]
    except DirectoryUnavailable as exc:
        _record(provider, events.LDAP_SYNC_FAILED, outcome=Outcome.FAILURE, metadata={"error": str(exc)})
        return {"error": str(exc)}
    if members and all(entry is None for _, entry in entries):
        error = "none of the members was found in the directory: check user_search_base and user_filter"
        _record(provider, events.LDAP_SYNC_FAILED, outcome=Outcome.FAILURE, metadata={"error": error})
        return {"error": error}

    counts = {"checked": len(entries), "updated": 0, "deprovisioned": 0}
    for membership, entry in entries:
        user = membership.user
        reason = "absent_from_directory" if entry is None else entry.refusal(provider)
        if reason:
            sso.sso_deprovision(provider=provider, user=user, reason=reason)
            counts["deprovisioned"] += 1
            continue
        identity = entry.identity(provider, user.email)
        changed = bool(sso.sso_groups_apply(provider=provider, user=user, groups=identity.groups))
        name = identity.full_name.strip()[:150]
        if name and name != user.full_name:
            user.full_name = name
            user.save(update_fields=["full_name"])
            changed = True
        counts["updated"] += changed
    _record(provider, events.LDAP_SYNC_COMPLETED, metadata=counts)
    return counts


def ldap_sync_all() -> dict[str, dict]:
    """Sync every enabled LDAP provider of an active organization; one failing never stops the others."""
    results = {}
    providers = IdentityProvider.objects.filter(
        kind=IdentityProvider.Kind.LDAP, enabled=True, organization__is_active=True
    ).select_related("organization")
    for provider in providers:
        key = f"{provider.organization.slug}/{provider.slug}"
        try:
            results[key] = ldap_sync(provider)
        except Exception:  # one provider's bug must not starve the others; the task's logs carry the traceback
            logger.exception("LDAP sync of %s failed", key)
            results[key] = {"error": "internal error"}
    return results


def ldap_test_connection(provider: IdentityProvider, *, actor=None, email: str = "") -> tuple[bool, str]:
    """Bind with the service account, search one user, and say what happened in words an admin can act on.

    `email` names the user to look up (default: any member in the provider's domains). Recorded.
    """
    from accounts.sso import ldap as ldap_kind

    errors = ldap_kind.validate(provider)
    if errors:
        ok, message = False, "Configuration errors: " + "; ".join(errors.get("config", []))
    else:
        if not email:
            member = next(iter(_members(provider)), None)
            email = member.user.email if member else f"nobody@{(provider.email_domains or ['example.com'])[0]}"
        try:
            entry = directory_lookup(provider, email)
        except DirectoryUnavailable as exc:
            ok, message = False, f"Could not bind or search: {exc}"
        else:
            ok = True
            if entry is None:
                message = f"Bound as the service account; no entry matches {email} (the search works)."
            else:
                groups = ", ".join(sorted(entry.group_names)) or "none"
                message = f"Bound and found {entry.dn} for {email}; groups: {groups}."
    with transaction.atomic():
        audit_record(
            org=provider.organization, event=events.LDAP_CONNECTION_TESTED, actor=actor, target=provider,
            outcome=Outcome.SUCCESS if ok else Outcome.FAILURE,
            metadata={"provider": provider.slug, "ok": ok, "message": message[:500]},
        )  # fmt: skip
    return ok, message
