"""The registry of identity-provider kinds: what each protocol module tells the core about itself.

Each protocol module (accounts.sso.saml, .oidc, .ldap) calls `register()` at import; accounts/apps.py imports
them in ready(). The core never knows a protocol's config: it asks the kind to validate a provider, which of
its `secrets` keys exist (so the API and admin can offer them write-only), and where a browser starts a login.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from accounts.models import IdentityProvider

Validator = Callable[["IdentityProvider"], dict[str, list[str]]]


@dataclass(frozen=True)
class Kind:
    name: str
    validate: Validator
    secret_fields: tuple[str, ...] = field(default_factory=tuple)
    # Where a browser starts a login with this provider; None for kinds that take a password here (LDAP).
    login_url: Callable[["IdentityProvider"], str] | None = None


_kinds: dict[str, Kind] = {}


class KindError(Exception):
    pass


def register(
    kind: str,
    *,
    validate: Validator,
    secret_fields: list[str],
    login_url: Callable[["IdentityProvider"], str] | None = None,
) -> Kind:
    """Declare a kind once (write-once, like every registry here: a second registration is a bug)."""
    if kind in _kinds:
        raise KindError(f"identity-provider kind {kind!r} is already registered")
    entry = Kind(name=kind, validate=validate, secret_fields=tuple(secret_fields), login_url=login_url)
    _kinds[kind] = entry
    return entry


def unregister(kind: str) -> None:
    """For tests that register a throw-away kind."""
    _kinds.pop(kind, None)


def get(kind: str) -> Kind | None:
    return _kinds.get(kind)


def registered() -> dict[str, Kind]:
    return dict(_kinds)


def validate(provider: "IdentityProvider") -> dict[str, list[str]]:
    """The kind's field errors for `provider` ({} when valid); an unknown kind is itself an error."""
    entry = _kinds.get(provider.kind)
    if entry is None:
        return {"kind": [f"Identity providers of kind '{provider.kind}' are not available on this server."]}
    errors = entry.validate(provider) or {}
    unknown = sorted(set(provider.secrets or {}) - set(entry.secret_fields))
    if unknown:
        errors = {**errors, "secrets": [*errors.get("secrets", []), f"Unknown secret fields: {', '.join(unknown)}."]}
    return errors


def login_url(provider: "IdentityProvider") -> str | None:
    entry = _kinds.get(provider.kind)
    return entry.login_url(provider) if entry and entry.login_url else None


def secret_fields(kind: str) -> tuple[str, ...]:
    entry = _kinds.get(kind)
    return entry.secret_fields if entry else ()
