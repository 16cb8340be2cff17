"""Password logins checked by an organization's LDAP / Active Directory, through django-auth-ldap.

`authenticate(request, email=..., password=...)` (the JSON API's password_check, allauth's form and the
step-up re-check all call it) asks this backend first. When the address's domain is served by an enabled LDAP
provider, the directory is the only judge of the password: a refusal raises PermissionDenied, so Django stops
and the local password (EmailBackend) is never tried. The one exception is a break-glass owner, who falls
through to their local password whenever the directory refuses them or is down, so an organization whose
directory is broken can still get in.

On success the SSO core provisions the user exactly as for SAML and OIDC (JIT, name, group-mapped teams and
roles); the login itself, MFA included, stays with the caller's password flow.
"""

import contextvars
import logging
from dataclasses import dataclass, field

import ldap
from django.core.exceptions import PermissionDenied
from django_auth_ldap.backend import LDAPBackend, ldap_error

from accounts.models import IdentityProvider, Membership, User
from accounts.services import sso
from accounts.sso import ldap as ldap_kind

logger = logging.getLogger(__name__)

# Directory errors django-auth-ldap met during the current operation. It reports them with its `ldap_error`
# signal and then answers as if the user did not exist; we need to tell "down" from "no such user".
_errors: contextvars.ContextVar[list | None] = contextvars.ContextVar("ldap_errors", default=None)


def _collect_error(sender, context=None, exception=None, **kwargs):
    errors = _errors.get()
    if errors is not None:
        errors.append(exception)


ldap_error.connect(_collect_error, dispatch_uid="chatapp-ldap-errors")


class DirectoryUnavailable(Exception):
    """The directory could not be reached or refused the service account: nothing can be decided."""


@dataclass
class DirectoryEntry:
    """A person as the directory describes them, with what decides whether they may sign in."""

    dn: str
    attrs: dict
    group_dns: set[str] = field(default_factory=set)
    group_names: set[str] = field(default_factory=set)

    def first(self, name: str) -> str:
        values = self.attrs.get(name) or self.attrs.get(name.lower()) or []
        if not values:
            return ""
        value = values[0]
        if isinstance(value, bytes):  # objectGUID and other binary identifiers
            try:
                return value.decode()
            except UnicodeDecodeError:
                return value.hex()
        return str(value)

    @property
    def disabled(self) -> bool:
        """Active Directory's userAccountControl ACCOUNTDISABLE bit (OpenLDAP removes people instead)."""
        try:
            return bool(int(self.first("userAccountControl") or 0) & ldap_kind.AD_ACCOUNT_DISABLED)
        except ValueError:
            return False

    def refusal(self, provider) -> str:
        """Why this entry may not sign in to `provider` ("" when it may): disabled, required or denied groups."""
        config = ldap_kind.config_of(provider)
        if self.disabled:
            return "directory_disabled"
        required = {dn.lower() for dn in config["required_groups"]}
        if required and not required & self.group_dns:
            return "group_required"
        if {dn.lower() for dn in config["denied_groups"]} & self.group_dns:
            return "group_denied"
        return ""

    def identity(self, provider, email: str) -> sso.SsoIdentity:
        # Mappings may name a group by its name (cn) or its full DN: both are offered.
        groups = tuple(sorted(self.group_names | self.group_dns))
        return sso.SsoIdentity(
            subject=self.first(ldap_kind.attribute(provider, "subject")) or self.dn,
            email=self.first(ldap_kind.attribute(provider, "email")) or email,
            full_name=self.first(ldap_kind.attribute(provider, "full_name")),
            groups=groups,
            attributes={"dn": self.dn},
        )


class _Directory(LDAPBackend):
    """django-auth-ldap bound to one provider's settings. Never writes users: that is the SSO core's job."""

    def __init__(self, provider):
        self.settings = ldap_kind.directory_settings(provider)

    def get_or_build_user(self, username, ldap_user):
        # An unsaved stand-in, reported as existing: django-auth-ldap then neither creates nor saves anyone.
        return User(email=username), False


def _run(operation):
    """Run `operation()` collecting directory errors; raise DirectoryUnavailable if it met any."""
    errors = []
    token = _errors.set(errors)
    try:
        result = operation()
    except ldap.LDAPError as exc:
        errors.append(exc)
    finally:
        _errors.reset(token)
    if errors:
        raise DirectoryUnavailable(_describe(errors[0]))
    return result


def _describe(exc) -> str:
    """A short message from the directory's error, for admins (never credentials: those are not in errors)."""
    if isinstance(exc, ldap.LDAPError) and exc.args and isinstance(exc.args[0], dict):
        info = exc.args[0]
        return " - ".join(str(part) for part in (info.get("desc"), info.get("info")) if part)[:300]
    return str(exc)[:300] or type(exc).__name__


def _entry(ldap_user) -> DirectoryEntry:
    return DirectoryEntry(
        dn=ldap_user.dn,
        attrs=ldap_user.attrs or {},
        group_dns={dn.lower() for dn in ldap_user.group_dns},
        group_names={name for name in ldap_user.group_names if name},
    )


def directory_check(provider, email: str, password: str) -> DirectoryEntry | None:
    """The directory's entry for `email` if `password` is theirs (None: unknown user or wrong password).

    Raises DirectoryUnavailable when the directory cannot answer (or its stored settings are incomplete)."""
    try:
        backend = _Directory(provider)
    except (KeyError, ValueError, TypeError) as exc:
        # A row saved around the services' validation (a fixture, a raw SQL edit): refuse, never a 500.
        raise DirectoryUnavailable(
            f"the provider's settings are incomplete ({exc.__class__.__name__}: {exc})"
        ) from None

    def check():
        # username is what %(user)s becomes in the user filter; django-auth-ldap escapes it.
        user = backend.authenticate(None, username=email, password=password)
        return _entry(user.ldap_user) if user is not None else None

    return _run(check)


def directory_lookup(provider, email: str) -> DirectoryEntry | None:
    """The directory's entry for `email` through the service account (sync, test connection), or None."""
    # _LDAPUser is what django-auth-ldap's own populate_user() uses; that public method would also save a user.
    from django_auth_ldap.backend import _LDAPUser

    backend = _Directory(provider)

    def lookup():
        ldap_user = _LDAPUser(backend, username=email)
        return _entry(ldap_user) if ldap_user.dn is not None else None

    return _run(lookup)


def ldap_providers_for_email(email: str) -> list[IdentityProvider]:
    return [p for p in sso.providers_for_email(email) if p.kind == IdentityProvider.Kind.LDAP]


def _is_break_glass(provider, email: str) -> bool:
    return Membership.objects.filter(
        organization_id=provider.organization_id, user__email__iexact=email, is_active=True,
        role=Membership.Role.OWNER, sso_break_glass=True,
    ).exists()  # fmt: skip


class LDAPDirectoryBackend(LDAPBackend):
    """The AUTHENTICATION_BACKENDS entry: routes a login to the LDAP provider that serves the e-mail domain."""

    def authenticate(self, request, username=None, password=None, email=None, **kwargs):
        email = (email or username or "").strip()
        providers = ldap_providers_for_email(email) if email else []
        if not providers:
            return None  # not a directory user: the other backends decide
        if not password:
            # django-auth-ldap refuses empty passwords too: an empty one would be an anonymous bind.
            raise PermissionDenied
        for provider in providers:
            try:
                entry = directory_check(provider, email, password)
            except DirectoryUnavailable as exc:
                logger.warning("LDAP provider %s unavailable: %s", provider.slug, exc)
                sso.sso_failure(
                    request, provider=provider, reason="directory_unavailable", email=email, detail=str(exc)
                )
                continue  # another provider for this domain may answer
            if entry is None:
                sso.sso_failure(request, provider=provider, reason="wrong_password_or_unknown_user", email=email)
                continue
            refusal = entry.refusal(provider)
            if refusal:
                sso.sso_failure(request, provider=provider, reason=refusal, email=email)
                break  # the directory knows them and says no
            try:
                # request=None: provision only. The caller's password flow logs in, after MFA when due.
                return sso.sso_login(None, provider=provider, identity=entry.identity(provider, email))
            except sso.SsoRefused:
                break  # already audited by the core
        if any(_is_break_glass(provider, email) for provider in providers):
            return None  # break-glass owners may use their local password (EmailBackend, next)
        raise PermissionDenied  # stops Django here: the local password is never tried

    def get_user(self, user_id):
        # Sessions name this backend; the user is the database's (no directory query on every request).
        user = User.objects.filter(pk=user_id).first()
        return user if user is not None and user.is_active else None

    def get_all_permissions(self, user, obj=None):
        return set()  # permissions come from rbac, not from directory groups

    def get_group_permissions(self, user, obj=None):
        return set()
