"""OpenID Connect / OAuth 2.0 identity providers: configuration, presets and the kind registration.

A provider's `config` (non-secret) holds `preset` and `client_id` plus what the preset needs; `secrets` holds
`client_secret`. Presets only fill in what the admin would otherwise copy from the IdP's documentation:

    generic  discovery_url (…/.well-known/openid-configuration); issuer (optional, else the discovery URL's prefix)
    google   hosted_domain (optional, the Workspace domain: the `hd` claim must equal it)
    entra    tenant (the directory's GUID: "common"/"organizations" would accept every Microsoft tenant)
    okta     domain (acme.okta.com), authorization_server (optional, e.g. "default")
    gitlab   base_url (optional, https://gitlab.com or a self-managed instance)
    github   base_url (optional, https://github.com or GitHub Enterprise Server), allowed_organizations (optional),
             groups (optional bool: organizations and teams become groups; needs the read:org scope)
    all      scopes (optional extra scopes, e.g. ["groups"] for Okta)

The expected issuer is always known from configuration, never taken from the network: discovery documents and
ID tokens are compared with it (an OP that serves another issuer's discovery document is refused).

Why our own client on Authlib's JOSE library (joserfc) rather than allauth's openid_connect provider: allauth's
provider sends no nonce, has PKCE off by default, never compares the issuer, keeps its apps (and secrets) in
plain-text SocialApp rows, and lets a token signed HS256 with the RSA public key end in a 500 (PITFALLS.md).
Each of those is a check we must own anyway; writing the authorization-code flow around a vetted JWS
implementation keeps every check in one readable place (accounts.sso.oidc_client) and every failure a clean
OidcError. The protocol logic is ~300 lines; the cryptography is joserfc's.
"""

import re
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.core import checks
from django.urls import reverse

from accounts.sso import kinds, oidc_client
from accounts.sso import oidc_events as oidc_events  # declares the audit events at import

DISCOVERY_SUFFIX = "/.well-known/openid-configuration"
OIDC_SCOPES = ("openid", "email", "profile")
GITHUB_SCOPES = ("read:user", "user:email")
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,100}$")  # RFC 6749 scope-token
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
_SLUG = re.compile(r"^[A-Za-z0-9._-]{1,100}$")

PRESETS = {
    "generic": "OpenID Connect",
    "google": "Google Workspace",
    "entra": "Microsoft Entra ID",
    "okta": "Okta",
    "gitlab": "GitLab",
    "github": "GitHub (OAuth 2.0)",
}


@dataclass(frozen=True)
class Settings:
    """Everything a login needs, resolved from a provider's config and secrets."""

    preset: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]
    issuer: str = ""  # OIDC: the exact expected `iss`
    issuer_aliases: tuple[str, ...] = ()  # Google documents `iss` as either its URL or its bare host name
    discovery_url: str = ""  # OIDC
    github_web: str = ""  # GitHub: https://github.com (authorize, token) ...
    github_api: str = ""  # ... and https://api.github.com (user, emails, orgs, teams)
    hosted_domain: str = ""  # Google: required `hd`
    email_domains: tuple[str, ...] = ()  # GitHub: of several verified addresses, prefer one of these
    allowed_organizations: tuple[str, ...] = ()  # GitHub
    github_groups: bool = False

    @property
    def is_oidc(self) -> bool:
        return self.preset != "github"


def _base(url: str, default: str) -> str:
    return (url or default).rstrip("/")


def issuer_for(config: dict) -> str:
    preset = config.get("preset", "generic")
    if preset == "generic":
        return (config.get("issuer") or str(config.get("discovery_url", "")).removesuffix(DISCOVERY_SUFFIX)).rstrip(
            "/"
        ) or ""
    if preset == "google":
        return "https://accounts.google.com"
    if preset == "entra":
        return f"https://login.microsoftonline.com/{config.get('tenant', '')}/v2.0"
    if preset == "okta":
        server = config.get("authorization_server")
        return f"https://{config.get('domain', '')}" + (f"/oauth2/{server}" if server else "")
    if preset == "gitlab":
        return _base(config.get("base_url", ""), "https://gitlab.com")
    return ""


def settings_for(provider) -> Settings:
    config, secrets = provider.config or {}, provider.secrets or {}
    preset = config.get("preset", "generic")
    extra = tuple(config.get("scopes") or ())
    common = {
        "preset": preset,
        "client_id": config.get("client_id", ""),
        "client_secret": secrets.get("client_secret", ""),
        "email_domains": tuple(d.lower() for d in provider.email_domains or ()),
    }
    if preset == "github":
        web = _base(config.get("base_url", ""), "https://github.com")
        groups = bool(config.get("groups"))
        orgs = tuple(o.lower() for o in config.get("allowed_organizations") or ())
        scopes = GITHUB_SCOPES + (("read:org",) if groups or orgs else ()) + extra
        return Settings(
            **common,
            scopes=tuple(dict.fromkeys(scopes)),
            github_web=web,
            github_api="https://api.github.com" if web == "https://github.com" else f"{web}/api/v3",
            allowed_organizations=orgs,
            github_groups=groups,
        )
    issuer = issuer_for(config)
    discovery = config.get("discovery_url") if preset == "generic" else issuer + DISCOVERY_SUFFIX
    return Settings(
        **common,
        scopes=tuple(dict.fromkeys(OIDC_SCOPES + extra)),
        issuer=issuer,
        discovery_url=discovery or "",
        hosted_domain=str(config.get("hosted_domain", "")).lower() if preset == "google" else "",
        issuer_aliases=("accounts.google.com",) if preset == "google" else (),
    )


def _url_errors(label: str, url) -> list[str]:
    if not isinstance(url, str) or not url:
        return [f"{label} is required."]
    problem = oidc_client.url_problem(url)
    if problem:
        return [f"{label}: {problem}"]
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        return [f"{label} must not have a query or fragment."]
    return []


def validate(provider) -> dict[str, list[str]]:
    """Field errors of an OIDC provider's config and secrets ({} when valid); no network access."""
    config, errors = provider.config or {}, []
    if not isinstance(config, dict):
        return {"config": ["The configuration must be an object."]}
    preset = config.get("preset", "generic")
    if preset not in PRESETS:
        return {"config": [f"Unknown preset '{preset}'. Choose one of: {', '.join(PRESETS)}."]}
    client_id = config.get("client_id")
    if not isinstance(client_id, str) or not client_id.strip() or len(client_id) > 255:
        errors.append("client_id is required (at most 255 characters).")
    scopes = config.get("scopes", [])
    if not isinstance(scopes, list) or not all(isinstance(s, str) and _SCOPE.match(s) for s in scopes):
        errors.append("scopes must be a list of scope names.")
    if preset == "generic":
        url = config.get("discovery_url")
        errors += _url_errors("discovery_url", url)
        if isinstance(url, str) and not url.endswith(DISCOVERY_SUFFIX):
            errors.append(f"discovery_url must end with {DISCOVERY_SUFFIX} (OpenID Connect Discovery 1.0, 4).")
        if config.get("issuer"):
            errors += _url_errors("issuer", config["issuer"])
    elif preset == "entra":
        try:
            uuid.UUID(str(config.get("tenant", "")))
        except ValueError:
            errors.append("tenant must be the directory (tenant) ID, a GUID; 'common' would admit every tenant.")
    elif preset == "okta":
        if not _HOST.match(str(config.get("domain", "")).lower()):
            errors.append("domain must be your Okta host name, e.g. acme.okta.com.")
        server = config.get("authorization_server")
        if server and not _SLUG.match(str(server)):
            errors.append("authorization_server must be an authorization server ID such as 'default'.")
    elif preset == "google":
        domain = config.get("hosted_domain")
        if domain and not _HOST.match(str(domain).lower()):
            errors.append("hosted_domain must be a domain name, e.g. acme.com.")
    elif preset in ("gitlab", "github"):
        if config.get("base_url"):
            errors += _url_errors("base_url", config["base_url"])
        orgs = config.get("allowed_organizations", [])
        if not isinstance(orgs, list) or not all(isinstance(o, str) and _SLUG.match(o) for o in orgs):
            errors.append("allowed_organizations must be a list of GitHub organization names.")
    result = {"config": errors} if errors else {}
    secret = (provider.secrets or {}).get("client_secret")
    if not isinstance(secret, str) or not secret:
        result["secrets"] = ["client_secret is required."]
    return result


def login_url(provider) -> str:
    return reverse("oidc_login", args=[provider.organization.slug, provider.slug])


kinds.register("oidc", validate=validate, secret_fields=["client_secret"], login_url=login_url)


@checks.register(checks.Tags.security, deploy=True)
def sso_fetches_stay_public(app_configs, **kwargs):
    """Discovery/JWKS/token URLs are chosen by organization admins: private addresses are for tests and on-prem."""
    if getattr(django_settings, "SSO_ALLOW_PRIVATE", False):
        return [
            checks.Warning(
                "SSO_ALLOW_PRIVATE is on: identity-provider URLs may point at private addresses and use plain http.",
                hint="Leave it off in production unless every identity provider really is on your own network.",
                id="accounts.W101",
            )
        ]
    return []
