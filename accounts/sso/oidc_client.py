"""The OpenID Connect authorization-code flow (with PKCE) and GitHub's OAuth 2.0 flow, every check explicit.

A login is `begin()` (discovery, then the authorization URL with state, nonce and an S256 code challenge) and
`complete()` (code exchange, ID token verification, claims to an SsoIdentity). Every refusal is an OidcError
with a machine reason (audited by the view through sso_failure) and a message a person can act on.

Outbound HTTP: discovery, JWKS, token and userinfo URLs come from an admin (or from a discovery document an
admin pointed us at), so each request goes through chatapp.kernel.outbound: it resolves the host once,
refuses non-public addresses (mapped IPv6 forms unwrapped), connects to the address it checked, requires https, never
follows redirects and reads at most 1 MiB. `SSO_ALLOW_PRIVATE` lifts the address and https rules for tests and
on-premises IdPs; it is off by default.
"""

import base64
import hashlib
import hmac
import json
import logging
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote_plus, urlencode

from django.conf import settings as django_settings
from django.core.cache import cache
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from chatapp.kernel import outbound

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5.0
MAX_RESPONSE_BYTES = 1024 * 1024
CLOCK_SKEW = 60  # seconds of tolerated clock difference with the IdP
MAX_TOKEN_AGE = 600  # an ID token issued longer ago than this is not from the login we just started
DISCOVERY_TTL = 3600
JWKS_TTL = 3600
JWKS_REFETCH_INTERVAL = 60  # an unknown kid refetches at most this often per JWKS (no refetch storms)
USER_AGENT = "chatapp-sso/1"
# Asymmetric only: HS256 would let anyone holding the *public* key sign; "none" signs nothing.
ALGORITHMS = {"RS256": "RSA", "ES256": "EC"}


class OidcError(Exception):
    """A refused login: `reason` is the audit code, `message` is shown to the person, `status` the HTTP answer."""

    def __init__(self, reason: str, message: str, *, detail: str = "", status: int = 400):
        super().__init__(message)
        self.reason, self.message, self.detail, self.status = reason, message, detail[:300], status


@dataclass(frozen=True)
class Start:
    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class Result:
    subject: str
    email: str
    full_name: str
    groups: tuple[str, ...]
    claims: dict


# --- outbound HTTP ----------------------------------------------------------------------------------------


def allow_private() -> bool:
    return getattr(django_settings, "SSO_ALLOW_PRIVATE", False)


def _policy() -> outbound.Policy:
    # IdPs on their own ports (Keycloak on 8443) keep working: the port rule is not applied to SSO.
    return outbound.Policy.from_settings(
        allow_private=allow_private(), ports=None, timeout=TIMEOUT_SECONDS,
        max_response_bytes=MAX_RESPONSE_BYTES, user_agent=USER_AGENT,
    )  # fmt: skip


def url_problem(url: str) -> str:
    """Why an IdP URL is refused before any connection, or ""."""
    problem = outbound.check_url(url, _policy())
    return problem[:1].lower() + problem[1:] if problem else ""


def _http(method: str, url: str, *, form: dict | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    problem = url_problem(url)
    if problem:
        raise OidcError("address_refused", "The identity provider is misconfigured.", detail=f"{url}: {problem}")
    body = urlencode(form).encode() if form is not None else None
    all_headers = {"Accept": "application/json", **(headers or {})}
    if body is not None:
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        response = outbound.request(method, url, body=body, headers=all_headers, policy=_policy())
    except outbound.AddressRefused as exc:
        raise OidcError("address_refused", "The identity provider is misconfigured.", detail=str(exc)) from exc
    except outbound.OutboundError as exc:
        raise OidcError(
            "idp_unreachable",
            "The identity provider could not be reached. Try again in a moment.",
            detail=str(exc),
            status=502,
        ) from exc
    if response.truncated:
        raise OidcError("invalid_response", "The identity provider sent an invalid answer.", detail="too large")
    return response.status, response.body


def _json(status: int, data: bytes, what: str) -> dict:
    try:
        document = json.loads(data)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise OidcError("invalid_response", "The identity provider sent an invalid answer.", detail=f"{what}: {status}")
    return document


def _get_json(url: str, what: str, headers: dict | None = None) -> dict:
    status, data = _http("GET", url, headers=headers)
    if status != 200:
        raise OidcError("invalid_response", "The identity provider sent an invalid answer.", detail=f"{what}: {status}")
    return _json(status, data, what)


def _cache_key(kind: str, url: str) -> str:
    return f"sso:oidc:{kind}:{hashlib.sha256(url.encode()).hexdigest()}"


# --- discovery and keys -----------------------------------------------------------------------------------


def discover(settings) -> dict:
    """The OP's discovery document (cached), refused unless its issuer is exactly the configured one."""
    # keyed on the expected issuer too: changing the configured issuer must re-check the document
    key = _cache_key("discovery", f"{settings.issuer}\n{settings.discovery_url}")
    document = cache.get(key)
    if document is None:
        document = _get_json(settings.discovery_url, "discovery")
        if document.get("issuer") != settings.issuer:
            raise OidcError(
                "wrong_issuer",
                "The identity provider's configuration names another issuer.",
                detail=f"expected {settings.issuer!r}, discovery says {str(document.get('issuer'))[:100]!r}",
            )
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = document.get(name)
            if not isinstance(value, str) or url_problem(value):
                raise OidcError("invalid_response", "The identity provider's configuration is incomplete.", detail=name)
        cache.set(key, document, DISCOVERY_TTL)
    return document


def _jwks(uri: str, *, refresh: bool = False) -> list[dict]:
    key = _cache_key("jwks", uri)
    keys = None if refresh else cache.get(key)
    if keys is None:
        keys = _get_json(uri, "jwks").get("keys")
        if not isinstance(keys, list):
            raise OidcError("invalid_response", "The identity provider sent an invalid answer.", detail="jwks")
        keys = [k for k in keys if isinstance(k, dict)]
        cache.set(key, keys, JWKS_TTL)
    return keys


def _pick(keys: list[dict], kid, alg: str) -> dict | None:
    kty = ALGORITHMS[alg]
    candidates = [
        k
        for k in keys
        if k.get("kty") == kty
        and k.get("use", "sig") == "sig"
        and k.get("alg", alg) == alg
        and (kty != "EC" or k.get("crv") == "P-256")
    ]
    if kid is not None:
        candidates = [k for k in candidates if k.get("kid") == kid]
    # without a kid, only an unambiguous key is used: guessing among several would hide a misconfiguration
    return candidates[0] if len(candidates) == 1 else None


def signing_key(jwks_uri: str, kid, alg: str, on_refetch: Callable[[], None] | None = None):
    """The JWK that should have signed a token; an unknown kid refetches the JWKS once (key rotation)."""
    jwk = _pick(_jwks(jwks_uri), kid, alg)
    if jwk is None and cache.add(_cache_key("jwks-refetch", jwks_uri), 1, JWKS_REFETCH_INTERVAL):
        jwk = _pick(_jwks(jwks_uri, refresh=True), kid, alg)
        if jwk is not None and on_refetch is not None:
            on_refetch()
    if jwk is None:
        raise OidcError(
            "unknown_key",
            "The identity provider signed the sign-in with a key we do not know.",
            detail=f"kid={str(kid)[:60]} alg={alg}",
        )
    try:
        return (RSAKey if alg == "RS256" else ECKey).import_key(jwk)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise OidcError("invalid_response", "The identity provider published an unusable key.") from exc


# --- the flow ---------------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def begin(settings, *, redirect_uri: str) -> Start:
    """Where to send the browser: the authorization endpoint with state, nonce and PKCE (S256)."""
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
    params = {
        "response_type": "code",
        "client_id": settings.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(settings.scopes),
        "state": state,
        "code_challenge": _b64(hashlib.sha256(verifier.encode()).digest()),
        "code_challenge_method": "S256",
    }
    if settings.is_oidc:
        endpoint = discover(settings)["authorization_endpoint"]
        params["nonce"] = nonce
        if settings.hosted_domain:
            params["hd"] = settings.hosted_domain  # only a hint for Google's account chooser; `hd` is checked later
    else:
        endpoint = f"{settings.github_web}/login/oauth/authorize"
        params["allow_signup"] = "false"
    separator = "&" if "?" in endpoint else "?"
    return Start(url=f"{endpoint}{separator}{urlencode(params)}", state=state, nonce=nonce, code_verifier=verifier)


def _exchange(settings, token_endpoint: str, *, code: str, redirect_uri: str, verifier: str, methods) -> dict:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier}
    headers = {}
    # client_secret_basic is the default (RFC 6749 2.3.1: both parts form-encoded); post only when basic is absent
    if isinstance(methods, list) and "client_secret_basic" not in methods and "client_secret_post" in methods:
        form |= {"client_id": settings.client_id, "client_secret": settings.client_secret}
    else:
        pair = f"{quote_plus(settings.client_id)}:{quote_plus(settings.client_secret)}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    status, data = _http("POST", token_endpoint, form=form, headers=headers)
    document = _json(status, data, "token")
    if status != 200 or "error" in document:
        raise OidcError(
            "token_error",
            "The identity provider refused to complete the sign-in. Start again.",
            detail=f"{status} {str(document.get('error', ''))[:80]}",
        )
    return document


def _segment(token: str, index: int) -> dict:
    try:
        part = token.split(".")[index]
        value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError) as exc:
        raise OidcError("invalid_token", "The identity provider sent an invalid sign-in token.") from exc
    if not isinstance(value, dict):
        raise OidcError("invalid_token", "The identity provider sent an invalid sign-in token.")
    return value


def verify_id_token(settings, jwks_uri: str, token, *, nonce: str, on_refetch=None, now: float | None = None) -> dict:
    """The claims of an ID token whose signature, issuer, audience, times, nonce and freshness all hold."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise OidcError("invalid_token", "The identity provider sent no valid sign-in token.")
    header = _segment(token, 0)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALGORITHMS:
        raise OidcError(
            "alg_refused", "The sign-in token is not signed the way we require.", detail=f"alg={str(alg)[:20]}"
        )
    key = signing_key(jwks_uri, header.get("kid"), alg, on_refetch)
    try:
        claims = json.loads(jws.deserialize_compact(token, key, algorithms=[alg]).payload)
    except (JoseError, ValueError) as exc:
        raise OidcError("bad_signature", "The sign-in token's signature is not valid.") from exc
    if not isinstance(claims, dict):
        raise OidcError("invalid_token", "The identity provider sent an invalid sign-in token.")
    now = time.time() if now is None else now

    if claims.get("iss") not in (settings.issuer, *settings.issuer_aliases):
        raise OidcError(
            "wrong_issuer",
            "The sign-in token comes from another issuer.",
            detail=f"iss={str(claims.get('iss'))[:100]}",
        )
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if settings.client_id not in audiences or claims.get("azp", settings.client_id) != settings.client_id:
        raise OidcError("wrong_audience", "The sign-in token was issued to another application.")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not all(isinstance(t, int | float) and math.isfinite(t) for t in (exp, iat)):
        raise OidcError("invalid_token", "The sign-in token has no validity period.")
    if now > exp + CLOCK_SKEW or now > iat + MAX_TOKEN_AGE + CLOCK_SKEW:
        raise OidcError("expired", "The sign-in took too long and expired. Start again.")
    nbf = claims.get("nbf", iat)
    if not isinstance(nbf, int | float) or not iat <= now + CLOCK_SKEW or not nbf <= now + CLOCK_SKEW:
        raise OidcError("not_yet_valid", "The sign-in token is not valid yet. Check the server clocks.")
    if not isinstance(claims.get("nonce"), str) or not hmac.compare_digest(claims["nonce"].encode(), nonce.encode()):
        raise OidcError("wrong_nonce", "The sign-in token does not belong to this sign-in. Start again.")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise OidcError("invalid_token", "The sign-in token names no user.")

    # Single use across every worker (shared cache): the nonce, and the jti when the IdP sends one, are
    # remembered for as long as the token passes the age check above (whatever its `exp` says).
    ttl = MAX_TOKEN_AGE + 2 * CLOCK_SKEW
    seen = [f"nonce:{claims['iss']}:{nonce}"] + ([f"jti:{claims['iss']}:{claims['jti']}"] if claims.get("jti") else [])
    for marker in seen:
        if not cache.add(_cache_key("seen", marker), 1, ttl):
            raise OidcError("replay", "This sign-in was already used. Start again.")
    return claims


def _claim(claims: dict, name: str):
    return claims.get(name)


def _identity_from_claims(settings, claims: dict, attribute_map: dict) -> Result:
    email = _claim(claims, attribute_map.get("email") or "email")
    if not isinstance(email, str) or "@" not in email:
        raise OidcError("missing_email", "The identity provider did not send your e-mail address.")
    # An IdP saying the address is unverified is believed (some send the string "false")
    if claims.get("email_verified") in (False, "false"):
        raise OidcError("email_unverified", "Your e-mail address is not verified at the identity provider.")
    if settings.hosted_domain and str(claims.get("hd", "")).lower() != settings.hosted_domain:
        raise OidcError("wrong_hosted_domain", "Sign in with your work account, not a personal one.")
    name = _claim(claims, attribute_map.get("full_name") or "name")
    if not isinstance(name, str) or not name:
        name = " ".join(str(claims[k]) for k in ("given_name", "family_name") if isinstance(claims.get(k), str))
    groups = _claim(claims, attribute_map.get("groups") or "groups")
    if isinstance(groups, str):
        groups = [groups]
    groups = tuple(str(g) for g in groups if isinstance(g, str | int)) if isinstance(groups, list) else ()
    return Result(
        subject=claims["sub"], email=email.strip().lower(), full_name=name[:150], groups=groups, claims=claims
    )


def complete(
    settings, *, code: str, redirect_uri: str, nonce: str, verifier: str, attribute_map: dict, on_refetch=None
) -> Result:
    """Exchange the code and turn the answer into a verified identity (OidcError otherwise)."""
    if not settings.is_oidc:
        return _complete_github(settings, code=code, redirect_uri=redirect_uri, verifier=verifier)
    document = discover(settings)
    tokens = _exchange(
        settings,
        document["token_endpoint"],
        code=code,
        redirect_uri=redirect_uri,
        verifier=verifier,
        methods=document.get("token_endpoint_auth_methods_supported"),
    )
    claims = verify_id_token(settings, document["jwks_uri"], tokens.get("id_token"), nonce=nonce, on_refetch=on_refetch)
    # groups are fetched only when the admin mapped a groups claim: most IdPs never send one
    wanted = {attribute_map.get("email") or "email"} | (
        {attribute_map["groups"]} if attribute_map.get("groups") else set()
    )
    userinfo_url = document.get("userinfo_endpoint")
    access_token = tokens.get("access_token")
    if not wanted <= claims.keys() and isinstance(userinfo_url, str) and isinstance(access_token, str):
        # Some IdPs keep e-mail or groups out of the ID token; userinfo is trusted only for the same subject
        # (OIDC Core 5.3.2), and the signed ID token's claims win.
        info = _get_json(userinfo_url, "userinfo", headers={"Authorization": f"Bearer {access_token}"})
        if info.get("sub") != claims["sub"]:
            raise OidcError("wrong_subject", "The identity provider answered for another user.")
        claims = {**info, **claims}
    return _identity_from_claims(settings, claims, attribute_map)


GITHUB_MAX_PAGES = 10  # 1,000 organizations or teams: beyond that, refuse rather than map half of them


def _github_email(settings, emails: list[dict]) -> str:
    """The verified address in one of the provider's domains (primary first), else the primary one."""
    emails = sorted(emails, key=lambda e: not e.get("primary"))
    for entry in emails:
        if entry["email"].rsplit("@", 1)[-1].lower() in settings.email_domains:
            return entry["email"]
    return emails[0]["email"]


def _complete_github(settings, *, code: str, redirect_uri: str, verifier: str) -> Result:
    """GitHub is OAuth 2.0 only: the identity is what its API says about the token's user."""
    tokens = _exchange(
        settings,
        f"{settings.github_web}/login/oauth/access_token",
        code=code,
        redirect_uri=redirect_uri,
        verifier=verifier,
        methods=["client_secret_post"],
    )
    access_token = tokens.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise OidcError("token_error", "GitHub refused to complete the sign-in. Start again.")
    headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/vnd.github+json"}
    api = settings.github_api

    def get_list(path: str) -> list:
        status, data = _http("GET", f"{api}{path}", headers=headers)
        try:
            value = json.loads(data) if status == 200 else None
        except ValueError:
            value = None
        if not isinstance(value, list):
            raise OidcError("invalid_response", "GitHub sent an invalid answer.", detail=f"{path}: {status}")
        return [item for item in value if isinstance(item, dict)]

    def get_all(path: str) -> list:
        """Every page of a list (GitHub gives at most 100 a page); people in large organizations have more teams."""
        items: list = []
        for page in range(1, GITHUB_MAX_PAGES + 1):
            batch = get_list(f"{path}?per_page=100&page={page}")
            items += batch
            if len(batch) < 100:
                return items
        raise OidcError("invalid_response", "GitHub sent more groups than we read.", detail=f"{path}: > 1000")

    user = _get_json(f"{api}/user", "github user", headers=headers)
    if not isinstance(user.get("id"), int):
        raise OidcError("invalid_response", "GitHub sent an invalid answer.", detail="user")
    emails = [e for e in get_list("/user/emails") if e.get("verified") is True and isinstance(e.get("email"), str)]
    if not emails:
        raise OidcError("missing_email", "Your GitHub account has no verified e-mail address.")
    groups: list[str] = []
    if settings.github_groups or settings.allowed_organizations:
        orgs = [str(o.get("login", "")).lower() for o in get_all("/user/orgs")]
        if settings.allowed_organizations and not set(orgs) & set(settings.allowed_organizations):
            raise OidcError("org_not_allowed", "Your GitHub account is not a member of an allowed organization.")
        if settings.github_groups:
            teams = get_all("/user/teams")
            groups = orgs + [
                f"{str(t['organization'].get('login', '')).lower()}/{t.get('slug', '')}"
                for t in teams
                if isinstance(t.get("organization"), dict)
            ]
    claims = {
        "sub": str(user["id"]),  # the numeric id: a login name can be renamed and then taken by someone else
        "email": _github_email(settings, emails),
        "all_emails": [e["email"] for e in emails],
        "name": user.get("name") or user.get("login") or "",
        "login": user.get("login"),
        "groups": groups,
    }
    return _identity_from_claims(settings, claims, {})
