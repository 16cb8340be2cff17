"""accounts' models in organization archives (accounts.services.portability.registry explains the declarations).

Never exported, by design: API keys and their digests, sessions, MFA devices and recovery codes (secrets, and
credentials of the source instance), identity providers' `secrets` (client secrets, SP private keys, LDAP bind
passwords), invitations (their links carry a token for the source instance's address: re-send them), privacy
requests (the operator's register, not the organization's). Password hashes travel only in full-migration mode.
"""

from django.contrib.auth.hashers import make_password
from django.db.models.functions import Lower

from accounts.models import IdentityProvider, Membership, Organization, User
from accounts.services.portability.registry import exportable

ORGANIZATION_SETTINGS = (
    "name",
    "api_key_max_lifetime_days",
    "session_idle_timeout_minutes",
    "session_max_lifetime_hours",
    "mfa_policy",
    "mfa_grace_days",
    "step_up_minutes",
    "sso_enforced",
    "erasure_deletes_messages",
)


def _organization_import(context, rows) -> None:
    # The target organization keeps its own slug (and id); it takes the source's name and policies.
    for row in rows:
        for name in ORGANIZATION_SETTINGS:
            setattr(context.org, name, row[name])
        # SSO cannot be enforced before the providers' secrets are entered again (they are never exported).
        context.org.sso_enforced = False
        context.org.save(update_fields=list(ORGANIZATION_SETTINGS))
        context.count("accounts.organization", 1)


def _users_of(org):
    return User.objects.filter(pk__in=Membership.objects.filter(organization=org).values("user_id"))


def _users_match(org, rows) -> dict[int, int]:
    # A person is one account across the instance: an existing address gets a membership, not a second account.
    wanted = {row["email"].lower(): row["id"] for row in rows}
    found = (
        User.objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in=list(wanted))
        .values_list("email_lower", "pk")
    )
    return {wanted[email]: pk for email, pk in found}


def _user_prepare(row) -> None:
    # Without full-migration mode the person sets a password (reset link) or signs in through SSO.
    row.setdefault("password", make_password(None))


def _memberships_match(org, rows) -> dict[int, int]:
    existing = dict(Membership.objects.filter(organization=org).values_list("user_id", "pk"))
    return {row["id"]: existing[row["user"]] for row in rows if row["user"] in existing}


def _provider_prepare(row) -> None:
    # Imported without their secrets, providers could only fail: an administrator enters them and enables.
    row["enabled"] = False


exportable(
    "accounts.Organization",
    fields=ORGANIZATION_SETTINGS,
    rows=lambda org: Organization.objects.filter(pk=org.pk),
    importer=_organization_import,
    allowed_in_target=True,
    description="The organization's name and policies (MFA, sessions, API keys, SSO enforcement, erasure).",
)
exportable(
    "accounts.User",
    fields=("email", "full_name", "is_active", "date_joined"),
    full_migration_fields=("password",),
    secrets=("is_superuser", "is_staff"),  # instance-wide privileges never move with an organization
    rows=_users_of,
    match=_users_match,
    prepare=_user_prepare,
    allowed_in_target=True,
    description="Everyone with a membership (former members too); matched by e-mail on import.",
)
exportable(
    "accounts.Membership",
    fields=("user", "role", "is_active", "joined", "sso_break_glass"),
    refs={"user": "accounts.user"},
    match=_memberships_match,
    allowed_in_target=True,
    description="Members and their base roles; an existing membership in the target is kept as it is.",
)
exportable(
    "accounts.IdentityProvider",
    fields=(
        "kind",
        "slug",
        "name",
        "enabled",
        "email_domains",
        "jit_provisioning",
        "default_role",
        "attribute_map",
        "config",
        "allow_idp_initiated",
        "created",
    ),
    secrets=("secrets",),
    prepare=_provider_prepare,
    description="SSO connections without their secrets; imported disabled.",
)

assert IdentityProvider  # imported for readers: the model the entry above describes
