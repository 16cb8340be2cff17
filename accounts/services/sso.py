"""Enterprise SSO, the protocol-independent part: provisioning at sign-in, deprovisioning, login routing,
enforcement, and the identity-provider configuration writes.

The protocol modules (accounts.sso.saml, .oidc, .ldap) verify what the identity provider says and hand the
result to `sso_login` as an `SsoIdentity`; everything after that - who may sign in, what their membership,
teams and roles become, the audit trail, the Django login - happens here, the same for every protocol.
"""

import re
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from accounts import audit_events as events
from accounts.models import IdentityProvider, Membership, Organization, User
from accounts.services.domains import verified_owner
from accounts.services.people import MEMBERSHIP_AUDITED_FIELDS, email_mark_verified, user_create
from accounts.services.sessions import credentials_revoke_all
from accounts.sso import kinds
from audit.context import client_ip
from audit.models import ActorType, Outcome
from audit.services import Actor, Target, audit_record, diff, snapshot
from chatapp.kernel.errors import Conflict, ProblemException
from chatapp.kernel.ratelimit import window_hit, window_peek
from rbac.permissions import SSO_MANAGE
from rbac.services import forget_access, require_perm

LOGIN_BACKEND = "accounts.backends.EmailBackend"
PROVIDER_AUDITED_FIELDS = (
    "kind", "slug", "name", "enabled", "email_domains", "jit_provisioning", "default_role", "attribute_map",
    "config", "allow_idp_initiated",
)  # fmt: skip
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@dataclass(frozen=True)
class SsoIdentity:
    """What an identity provider asserted about the person signing in, already verified by the protocol."""

    subject: str
    email: str
    full_name: str = ""
    groups: tuple[str, ...] = ()
    attributes: dict = field(default_factory=dict)


class SsoRefused(Exception):
    """A sign-in the core (or a protocol module) refuses: `reason` is a machine code for the audit trail and
    the logs, `message` is what the person may read."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class SsoRequired(ProblemException):
    """A password login refused because the organization enforces SSO for this address."""

    status_code = 403
    problem_slug = "sso-required"
    problem_title = "Single sign-on required"


def _system(provider: IdentityProvider | None) -> Actor:
    return Actor.system(f"sso:{provider.slug}" if provider else "sso")


def email_domain(email: str) -> str:
    email = (email or "").strip().lower()
    return email.rpartition("@")[2] if "@" in email else ""


# --- Routing and enforcement ---------------------------------------------------------------------------------


def providers_for_email(email: str) -> list[IdentityProvider]:
    """The enabled providers of active organizations that serve this address's domain (login routing)."""
    domain = email_domain(email)
    if not domain:
        return []
    candidates = IdentityProvider.objects.filter(enabled=True, organization__is_active=True).select_related(
        "organization"
    )
    # A verified claim (a DNS proof) wins the domain over organizations that merely listed it; with
    # SSO_REQUIRE_VERIFIED_DOMAINS an unverified domain routes nowhere.
    owner = verified_owner(domain)
    if owner is not None:
        candidates = candidates.filter(organization_id=owner)
    elif settings.SSO_REQUIRE_VERIFIED_DOMAINS:
        return []
    if connection.features.supports_json_field_contains:
        return list(candidates.filter(email_domains__contains=[domain]))
    # SQLite has no JSON containment; the providers are few, so filter them here.
    return [p for p in candidates if domain in (p.email_domains or [])]


def password_refusal(email: str) -> IdentityProvider | None:
    """The provider to use instead when a password login for `email` must be refused (None: allowed).

    Refused when the address's domain is served by an enabled non-LDAP provider of an organization that
    enforces SSO, unless the person is an active break-glass owner there. Domains served only by LDAP
    providers are not refused: their passwords are checked by the directory (accounts.sso.ldap's backend).
    """
    enforced = [p for p in providers_for_email(email) if p.organization.sso_enforced]
    if not enforced or all(p.kind == IdentityProvider.Kind.LDAP for p in enforced):
        return None
    org_ids = {p.organization_id for p in enforced if p.kind != IdentityProvider.Kind.LDAP}
    glass = set(
        Membership.objects.filter(
            user__email__iexact=(email or "").strip(), organization_id__in=org_ids, is_active=True,
            role=Membership.Role.OWNER, sso_break_glass=True,
        ).values_list("organization_id", flat=True)
    )  # fmt: skip
    for provider in enforced:
        if provider.kind != IdentityProvider.Kind.LDAP and provider.organization_id not in glass:
            return provider
    return None


def password_login_check(request, *, email: str) -> None:
    """Raise SsoRequired (recorded as a failed login, reason "sso_enforced") when `email` must use SSO."""
    provider = password_refusal(email)
    if provider is None:
        return
    from accounts.services.login import login_failed

    login_failed(request, email=email, reason="sso_enforced")
    url = kinds.login_url(provider)
    raise SsoRequired(
        f"{provider.organization.name} requires single sign-on for this address: sign in with {provider.name}"
        + (f" at {url}" if url else "")
        + " (or start at /accounts/sso/).",
        extra={"login_url": url or "/accounts/sso/", "provider": provider.name},
    )


# --- Sign-in -------------------------------------------------------------------------------------------------


def _failure_key(request, provider: IdentityProvider) -> str:
    return f"sso-failures:{provider.pk}:{client_ip(request) or 'unknown'}"


def sso_throttled(request, *, provider: IdentityProvider) -> int | None:
    """Seconds to wait when this client address has had SSO_FAILURE_LIMIT refused responses from `provider` in
    the current window, else None. Callbacks ask first, so a flood of junk posts is neither parsed nor audited
    row by row."""
    window = window_peek(_failure_key(request, provider), seconds=settings.SSO_FAILURE_WINDOW_SECONDS)
    return window.retry_after if window.count >= settings.SSO_FAILURE_LIMIT else None


def sso_callback_refused(
    request, *, provider: IdentityProvider, reason: str, email: str = "", detail: str = ""
) -> None:
    """A protocol callback (SAML ACS, OIDC redirect) refused what it was sent: audit it like any failure and count
    it towards the client address's limit (sso_throttled). Reaching the limit is recorded once per window;
    refusals beyond it are not recorded row by row, since anyone can post junk to a callback."""
    window = window_hit(_failure_key(request, provider), seconds=settings.SSO_FAILURE_WINDOW_SECONDS)
    if window.count > settings.SSO_FAILURE_LIMIT:
        return
    sso_failure(request, provider=provider, reason=reason, email=email, detail=detail)
    if window.count == settings.SSO_FAILURE_LIMIT:
        _record_throttled(provider, window.retry_after)


def sso_failure(request, *, provider: IdentityProvider | None, reason: str, email: str = "", detail: str = "") -> None:
    """Record a refused SSO sign-in (protocol modules call it for bad signatures, replays... before their 4xx).

    `detail` is for the audit trail only; never pass assertion XML, tokens or secrets in it."""
    with transaction.atomic():
        audit_record(
            org=provider.organization if provider else None, event=events.SSO_LOGIN_FAILED,
            actor=Actor(ActorType.USER, "", (email or "")[:254]), target=provider, outcome=Outcome.FAILURE,
            metadata={
                "reason": reason[:64], "detail": (detail or "")[:500],
                "provider": provider.slug if provider else "", "kind": provider.kind if provider else "",
            },
        )  # fmt: skip


def _record_throttled(provider: IdentityProvider, retry_after: int) -> None:
    with transaction.atomic():
        audit_record(
            org=provider.organization, event=events.SSO_LOGIN_THROTTLED, actor=Actor(ActorType.SYSTEM, "", "sso"),
            target=provider, outcome=Outcome.DENIED,
            metadata={"limit": settings.SSO_FAILURE_LIMIT, "window_seconds": settings.SSO_FAILURE_WINDOW_SECONDS,
                      "retry_after": retry_after},
        )  # fmt: skip


def sso_login(request, *, provider: IdentityProvider, identity: SsoIdentity) -> User:
    """Sign in the person `identity` names through `provider`: provision, update, map groups, log in.

    Raises SsoRefused (recorded as sso.login_failed) when the provider or organization is off, the address is
    outside the provider's domains, the person is not a member and JIT provisioning is off, or their
    membership or account is deactivated. Nothing is written for a refused sign-in but its audit event.
    """
    try:
        with transaction.atomic():
            user, changes = _provision(provider=provider, identity=identity)
            audit_record(
                org=provider.organization, event=events.SSO_LOGIN, actor=user, target=provider,
                changes=changes,
                metadata={"provider": provider.slug, "kind": provider.kind, "subject": identity.subject[:255]},
            )  # fmt: skip
    except SsoRefused as refused:
        sso_failure(request, provider=provider, reason=refused.reason, email=identity.email)
        raise
    from analytics import events as analytics_events
    from analytics.tracking import track

    track(analytics_events.SSO_LOGGED_IN, org=provider.organization, user=user, properties={"kind": provider.kind})
    if request is not None:
        from accounts.services.mfa import mark_verified

        login(request, user, backend=LOGIN_BACKEND)
        # The identity provider did the strong check (its own MFA): sensitive actions count from here.
        mark_verified(request)
    return user


def _provision(*, provider: IdentityProvider, identity: SsoIdentity) -> tuple[User, dict]:
    provider = IdentityProvider.objects.select_related("organization").get(pk=provider.pk)
    org = provider.organization
    if not provider.enabled or not org.is_active:
        raise SsoRefused("provider_disabled", "This sign-in method is turned off. Ask your administrator.")
    email = (identity.email or "").strip().lower()
    domain = email_domain(email)
    if not domain or not identity.subject:
        raise SsoRefused("missing_attributes", "The identity provider did not send an e-mail address and subject.")
    if domain not in (provider.email_domains or []):
        # The provider may only speak for its own domains: otherwise one organization's IdP could sign in as
        # anybody's account.
        raise SsoRefused("domain_not_allowed", f"{provider.name} may not sign in addresses at {domain}.")
    user = User.objects.select_for_update().filter(email__iexact=email).first()
    membership = Membership.objects.select_for_update().filter(organization=org, user=user).first() if user else None
    if user is not None and not user.is_active:
        raise SsoRefused("deactivated", "This account is deactivated. Ask your administrator.")
    if membership is not None and not membership.is_active:
        # JIT never brings back someone an administrator (or the directory) removed.
        raise SsoRefused("deactivated", f"Your membership of {org.name} is deactivated. Ask your administrator.")
    if membership is None and not provider.jit_provisioning:
        reason = "unknown_user" if user is None else "jit_disabled"
        raise SsoRefused(reason, f"You have no account in {org.name} yet. Ask your administrator to add you.")

    actor = _system(provider)
    changes = {}
    name = (identity.full_name or "").strip()[:150]
    if user is None:
        user = user_create(email=email, password=None, full_name=name, actor=actor)
        changes["user"] = [None, "created"]
    elif name and user.full_name != name:
        changes["full_name"] = [user.full_name, name]
        user.full_name = name
        user.save(update_fields=["full_name"])
    if membership is None:
        role = provider.default_role if provider.default_role != Membership.Role.OWNER else Membership.Role.MEMBER
        membership = Membership.objects.create(organization=org, user=user, role=role)
        audit_record(
            org=org, event=events.MEMBER_ADDED, actor=actor, target=user,
            changes=diff({}, snapshot(membership, MEMBERSHIP_AUDITED_FIELDS)),
        )  # fmt: skip
    email_mark_verified(user=user)
    changes.update(_apply_group_mappings(provider=provider, user=user, groups=identity.groups))
    return user, changes


def _apply_group_mappings(*, provider: IdentityProvider, user: User, groups) -> dict:
    """Make the user's mapped teams and org-wide role grants match their IdP groups, adding and removing.

    Teams and roles that appear in a mapping of this provider (or of any provider) are managed by the IdP:
    membership in them follows the groups at every sign-in or directory sync. Others are left alone. Changes
    are recorded with rbac's own events, by the system actor "sso:<slug>".
    """
    from rbac.models import Grant, IdentityGroupMapping, TeamMember
    from rbac.services._common import record
    from rbac.services.grants import grant_snapshot
    from rbac.services.teams import member_snapshot

    org = provider.organization
    wanted_names = {str(g).strip().lower() for g in groups or ()}
    mappings = list(
        IdentityGroupMapping.objects.filter(organization=org, provider__in=[provider.slug, ""]).select_related(
            "team", "role"
        )
    )
    if not mappings:
        return {}
    managed_teams = {m.team_id: m.team for m in mappings if m.team_id}
    managed_roles = {m.role_id: m.role for m in mappings if m.role_id}
    wanted_teams = {m.team_id for m in mappings if m.team_id and m.group_name.lower() in wanted_names}
    wanted_roles = {m.role_id for m in mappings if m.role_id and m.group_name.lower() in wanted_names}
    actor = _system(provider)
    added, removed = [], []

    current_teams = {
        m.team_id: m
        for m in TeamMember.objects.select_for_update().filter(organization=org, user=user, team_id__in=managed_teams)
    }
    for team_id in sorted(wanted_teams - set(current_teams)):
        member = TeamMember.objects.create(organization=org, team=managed_teams[team_id], user=user)
        record(org=org, actor=actor, event_name="rbac.team_member.added", target=member, after=member_snapshot(member))
        added.append(f"team:{managed_teams[team_id].name}")
    for team_id in sorted(set(current_teams) - wanted_teams):
        member = current_teams[team_id]
        record(org=org, actor=actor, event_name="rbac.team_member.removed", target=managed_teams[team_id],
               before=member_snapshot(member))  # fmt: skip
        member.delete()
        removed.append(f"team:{managed_teams[team_id].name}")

    current_grants = {
        g.role_id: g
        for g in Grant.objects.select_for_update().filter(
            organization=org, user=user, team__isnull=True, resource_id__isnull=True, role_id__in=managed_roles
        )
    }
    for role_id in sorted(wanted_roles - set(current_grants)):
        grant = Grant.objects.create(organization=org, role=managed_roles[role_id], user=user)
        record(org=org, actor=actor, event_name="rbac.grant.created", target=grant, after=grant_snapshot(grant))
        added.append(f"role:{managed_roles[role_id].name}")
    for role_id in sorted(set(current_grants) - wanted_roles):
        grant = current_grants[role_id]
        record(org=org, actor=actor, event_name="rbac.grant.revoked", target=grant, before=grant_snapshot(grant))
        grant.delete()
        removed.append(f"role:{managed_roles[role_id].name}")

    if added or removed:
        forget_access(user, org)
    return {"mapped": [removed, added]} if added or removed else {}


def sso_groups_apply(*, provider: IdentityProvider, user: User, groups) -> dict:
    """Apply group mappings outside a sign-in (directory sync). Returns {"mapped": [removed, added]} or {}."""
    with transaction.atomic():
        provider = IdentityProvider.objects.select_related("organization").get(pk=provider.pk)
        return _apply_group_mappings(provider=provider, user=user, groups=groups)


@transaction.atomic
def sso_deprovision(*, provider: IdentityProvider, user: User, reason: str, actor=None) -> None:
    """End `user`'s membership of the provider's organization and revoke their sessions and API keys at once
    (the directory disabled them, or the IdP said they are gone). Safe to run twice.

    Unlike an administrator's deactivation this does not spare the last owner: the directory is the source of
    truth, and an account the company disabled must not keep working. Break-glass owners should be accounts
    the directory does not manage.
    """
    org = provider.organization
    actor = actor if actor is not None else _system(provider)
    membership = Membership.objects.select_for_update().filter(organization=org, user=user).first()
    if membership is not None and membership.is_active:
        before = snapshot(membership, MEMBERSHIP_AUDITED_FIELDS)
        membership.is_active = False
        membership.save(update_fields=["is_active"])
        audit_record(
            org=org, event=events.MEMBER_UPDATED, actor=actor, target=user,
            changes=diff(before, snapshot(membership, MEMBERSHIP_AUDITED_FIELDS)),
        )  # fmt: skip
        forget_access(user, org)
    revoked = credentials_revoke_all(user=user, reason=f"deprovisioned by {provider.slug}: {reason}"[:200], actor=actor)
    audit_record(
        org=org, event=events.SSO_DEPROVISIONED, actor=actor, target=user,
        metadata={"provider": provider.slug, "reason": reason[:200], **revoked},
    )  # fmt: skip


# --- Configuration -------------------------------------------------------------------------------------------


def provider_snapshot(provider: IdentityProvider) -> dict:
    """The audited view of a provider: every setting, and the NAMES of the secret fields that are set."""
    values = snapshot(provider, PROVIDER_AUDITED_FIELDS)
    values["secrets_set"] = secrets_set(provider)
    return values


def secrets_set(provider: IdentityProvider) -> list[str]:
    return sorted(k for k, v in (provider.secrets or {}).items() if v not in (None, ""))


def _clean_domains(value) -> list[str]:
    if not isinstance(value, list | tuple):
        raise ValidationError({"email_domains": ["Give a list of e-mail domains."]})
    domains = []
    for item in value:
        domain = str(item).strip().lower().lstrip("@")
        if not _DOMAIN.match(domain):
            raise ValidationError({"email_domains": [f"'{item}' is not a domain name."]})
        if domain not in domains:
            domains.append(domain)
    return domains


def identity_provider_validate(provider: IdentityProvider) -> None:
    """Raise ValidationError with every field error of an unsaved provider (the admin form shows them)."""
    _validate(provider)


def _validate(provider: IdentityProvider) -> None:
    """Raise ValidationError with every field error: the model's, the core's, then the kind's."""
    errors: dict[str, list[str]] = {}
    try:
        # The kind is checked by the registry (kinds.validate), which knows what this server offers.
        provider.full_clean(exclude=["organization", "kind", "secrets", "email_domains", "attribute_map", "config"])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        provider.email_domains = _clean_domains(provider.email_domains)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if provider.default_role == Membership.Role.OWNER:
        errors.setdefault("default_role", []).append("Members created at sign-in cannot be owners.")
    for name in ("attribute_map", "config", "secrets"):
        value = getattr(provider, name)
        if not isinstance(value, dict):
            errors.setdefault(name, []).append("Give an object.")
    if isinstance(provider.attribute_map, dict) and not all(
        isinstance(k, str) and isinstance(v, str) for k, v in provider.attribute_map.items()
    ):
        errors.setdefault("attribute_map", []).append("Map attribute names (strings) to IdP attribute names.")
    if isinstance(provider.secrets, dict) and not all(isinstance(v, str) for v in provider.secrets.values()):
        errors.setdefault("secrets", []).append("Secret values are strings.")
    if provider.enabled and not errors.get("email_domains"):
        _validate_domains(provider, errors)
    # The kind's validator sees well-typed values only; its errors join the core's so a form shows them all.
    if not {"config", "secrets", "attribute_map"} & set(errors):
        for name, messages in kinds.validate(provider).items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)


def _validate_domains(provider: IdentityProvider, errors: dict) -> None:
    """One organization per domain: otherwise one tenant's IdP could route (and enforce) another's users.
    A domain verified by DNS belongs to its verifier; an unverified one to the first organization listing it."""
    org_id = provider.organization_id
    verified = {d: verified_owner(d) for d in provider.email_domains}
    theirs = [d for d, owner in verified.items() if owner not in (None, org_id)]
    if theirs:
        errors.setdefault("email_domains", []).append(f"Verified by another organization: {', '.join(theirs)}.")
    unverified = [d for d, owner in verified.items() if owner is None]
    if settings.SSO_REQUIRE_VERIFIED_DOMAINS and unverified:
        errors.setdefault("email_domains", []).append(
            f"Verify these domains first (SSO → e-mail domains): {', '.join(unverified)}."
        )
        return
    listed = [d for d in unverified if _first_lister(d) not in (None, org_id)]
    if listed:
        errors.setdefault("email_domains", []).append(
            f"Already served by another organization: {', '.join(listed)}. Verify the domain by DNS to take it over."
        )


def _first_lister(domain: str) -> int | None:
    owners = {p.organization_id for p in providers_for_email(f"x@{domain}")}
    return next(iter(owners), None)


def _save(provider: IdentityProvider) -> None:
    try:
        with transaction.atomic():
            provider.save()
    except IntegrityError:
        raise Conflict(f"An identity provider with the slug '{provider.slug}' already exists.") from None


@transaction.atomic
def identity_provider_create(
    *,
    actor: User,
    org: Organization,
    kind: str,
    slug: str,
    name: str,
    enabled: bool = True,
    email_domains=(),
    jit_provisioning: bool = False,
    default_role: str = Membership.Role.MEMBER,
    attribute_map: dict | None = None,
    config: dict | None = None,
    secrets: dict | None = None,
    allow_idp_initiated: bool = False,
) -> IdentityProvider:
    """Add an identity provider to `org` (sso.manage), validated by the core and by its kind."""
    require_perm(user=actor, org=org, perm=SSO_MANAGE)
    provider = IdentityProvider(
        organization=org, kind=kind, slug=slug, name=name, enabled=enabled, email_domains=list(email_domains or []),
        jit_provisioning=jit_provisioning, default_role=default_role, attribute_map=dict(attribute_map or {}),
        config=dict(config or {}), secrets=_merge_secrets({}, secrets), allow_idp_initiated=allow_idp_initiated,
    )  # fmt: skip
    _validate(provider)
    _save(provider)
    audit_record(
        org=org, event=events.SSO_PROVIDER_CREATED, actor=actor, target=provider,
        changes=diff({}, provider_snapshot(provider)),
    )  # fmt: skip
    return provider


def _merge_secrets(current: dict, given: dict | None) -> dict:
    """Secrets are write-only: the given keys replace the stored ones, a null or empty value removes one, and
    keys not given are kept (so a form that cannot show them does not erase them)."""
    if given is None:
        return dict(current)
    if not isinstance(given, dict):
        raise ValidationError({"secrets": ["Give an object of secret fields."]})
    merged = dict(current)
    for key, value in given.items():
        if value in (None, ""):
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


UPDATABLE_FIELDS = frozenset(
    {"slug", "name", "enabled", "email_domains", "jit_provisioning", "default_role", "attribute_map", "config",
     "allow_idp_initiated"}
)  # fmt: skip


@transaction.atomic
def identity_provider_update(
    *, actor: User, org: Organization, provider: IdentityProvider, secrets: dict | None = None, **fields
) -> IdentityProvider:
    """Change a provider's settings (sso.manage). `secrets` merges (see _merge_secrets); the kind is fixed."""
    require_perm(user=actor, org=org, perm=SSO_MANAGE)
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in sorted(unknown)})
    provider = IdentityProvider.objects.select_for_update().get(pk=provider.pk, organization=org)
    before = provider_snapshot(provider)
    for name, value in fields.items():
        setattr(provider, name, value)
    provider.secrets = _merge_secrets(provider.secrets or {}, secrets)
    _validate(provider)
    _save(provider)
    if provider.slug != before["slug"]:
        # Mappings name their provider by slug: they follow a rename (recorded in this event's slug change).
        from rbac.models import IdentityGroupMapping

        IdentityGroupMapping.objects.filter(organization=org, provider=before["slug"]).update(provider=provider.slug)
    changes = diff(before, provider_snapshot(provider))
    if changes or secrets:
        metadata = {"secrets_written": sorted(secrets)} if secrets else None
        audit_record(
            org=org, event=events.SSO_PROVIDER_UPDATED, actor=actor, target=provider, changes=changes,
            metadata=metadata,
        )  # fmt: skip
    return provider


@transaction.atomic
def identity_provider_delete(*, actor: User, org: Organization, provider: IdentityProvider) -> None:
    """Remove a provider (sso.manage). Its users keep their accounts; they sign in some other way."""
    require_perm(user=actor, org=org, perm=SSO_MANAGE)
    provider = IdentityProvider.objects.select_for_update().filter(pk=provider.pk, organization=org).first()
    if provider is None:
        return
    audit_record(
        org=org, event=events.SSO_PROVIDER_DELETED, actor=actor, target=Target.of(provider),
        changes=diff(provider_snapshot(provider), {}),
    )  # fmt: skip
    provider.delete()


@transaction.atomic
def sso_enforcement_update(
    *, actor: User, org: Organization, sso_enforced: bool | None = None, break_glass: dict[int, bool] | None = None
) -> Organization:
    """Turn "enforce SSO" on or off and name the break-glass owners ({user_id: bool}) (sso.manage).

    Break-glass is for owners only; turning enforcement on with no break-glass owner is allowed but leaves
    the organization without a way in should its IdP fail, so the API and docs warn about it.
    """
    require_perm(user=actor, org=org, perm=SSO_MANAGE)
    org = Organization.objects.select_for_update().get(pk=org.pk)
    if sso_enforced is not None and org.sso_enforced != sso_enforced:
        audit_record(
            org=org, event=events.SSO_ENFORCEMENT_UPDATED, actor=actor, target=org,
            changes={"sso_enforced": [org.sso_enforced, sso_enforced]},
        )  # fmt: skip
        org.sso_enforced = sso_enforced
        org.save(update_fields=["sso_enforced"])
    for user_id, flag in (break_glass or {}).items():
        membership = (
            Membership.objects.select_for_update().select_related("user").filter(organization=org, user_id=user_id)
        ).first()
        if membership is None:
            raise ValidationError({"break_glass": [f"User {user_id} is not a member of this organization."]})
        if flag and membership.role != Membership.Role.OWNER:
            raise ValidationError({"break_glass": ["Only owners can be break-glass accounts."]})
        if membership.sso_break_glass != flag:
            audit_record(
                org=org, event=events.SSO_ENFORCEMENT_UPDATED, actor=actor, target=membership.user,
                changes={"sso_break_glass": [membership.sso_break_glass, flag]},
            )  # fmt: skip
            membership.sso_break_glass = flag
            membership.save(update_fields=["sso_break_glass"])
    return org
