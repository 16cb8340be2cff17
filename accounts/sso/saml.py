"""SAML 2.0 identity providers: their configuration, our service-provider keys, and python3-saml's settings.

`config` of a SAML IdentityProvider (non-secret; validated by `validate`):
    idp_entity_id       the IdP's entity ID (the Issuer of its responses)
    idp_sso_url         where AuthnRequests go (HTTP-Redirect binding)
    idp_slo_url         optional: where LogoutRequests/Responses go (HTTP-Redirect binding)
    idp_certificates    the IdP's signing certificates, PEM; several during a rollover
    metadata_url        optional: the IdP's metadata, re-read daily (saml_tasks) to follow certificate rollovers
    want_assertions_encrypted   optional bool: refuse plain assertions (the IdP encrypts to sp_certificate)
    sp_certificate      our signing/encryption certificate (PEM, generated with the key; shown in our metadata)
`secrets`: sp_private_key (PEM). It never leaves this module except into python3-saml's settings.

Our entity ID is the provider's metadata URL; the URLs are built from settings.SAML_SP_BASE_URL (the public
https origin) so that what we compare Destination and Recipient with never depends on a request's Host header.
"""

import datetime
import ipaddress
import os
import threading
from collections import OrderedDict
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from lxml import etree
from onelogin import saml2 as onelogin_saml2
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from accounts.sso import kinds, saml_events
from chatapp.kernel import outbound

KIND = "saml"
SECRET_FIELDS = ["sp_private_key"]
CLOCK_SKEW = datetime.timedelta(seconds=60)
MIN_RSA_BITS = 2048
METADATA_MAX_BYTES = 1_000_000
METADATA_TIMEOUT = 10


class MetadataError(Exception):
    """IdP metadata that cannot be used (unreadable, unsafe to fetch, or missing what we need)."""


# ---------------------------------------------------------------------------------------------- URLs


def _url_kwargs(provider) -> dict:
    return {"org": provider.organization.slug, "idp": provider.slug}


def login_url(provider) -> str:
    """Where a browser starts an SP-initiated login (the registry's login_url; relative to our origin)."""
    return reverse("saml_login", kwargs=_url_kwargs(provider))


def base_url(request=None) -> str:
    """Our public origin. The setting wins; without it (development) the request's own, which ALLOWED_HOSTS
    vouches for."""
    configured = getattr(settings, "SAML_SP_BASE_URL", "")
    if configured:
        return configured.rstrip("/")
    if request is None:
        raise MetadataError("SAML_SP_BASE_URL is not set")
    return request.build_absolute_uri("/").rstrip("/")


def sp_urls(provider, base: str) -> dict[str, str]:
    kwargs = _url_kwargs(provider)
    urls = {
        name: base + reverse(f"saml_{name}", kwargs=kwargs) for name in ("metadata", "acs", "sls", "login", "logout")
    }
    urls["entity_id"] = urls["metadata"]
    return urls


# ---------------------------------------------------------------------------------------------- certificates


def load_certificate(text: str) -> x509.Certificate:
    """A PEM certificate, or the bare base64 body that IdP consoles (Okta, Entra) show. Raises ValueError."""
    text = (text or "").strip()
    if "-----BEGIN" not in text:
        body = "".join(text.split())
        text = "-----BEGIN CERTIFICATE-----\n" + body + "\n-----END CERTIFICATE-----\n"
    return x509.load_pem_x509_certificate(text.encode())


def certificate_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def certificate_problems(text: str, *, now=None) -> list[str]:
    """Why a pasted IdP certificate cannot verify our logins ([] when it can)."""
    now = now or datetime.datetime.now(datetime.UTC)
    try:
        cert = load_certificate(text)
    except ValueError:
        return ["is not a PEM or base64 X.509 certificate"]
    problems = []
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        problems.append("must carry an RSA key (RSA-SHA256 signatures)")
    elif key.key_size < MIN_RSA_BITS:
        problems.append(f"has a {key.key_size}-bit key; {MIN_RSA_BITS} bits or more are required")
    if cert.not_valid_after_utc <= now:
        problems.append(f"expired on {cert.not_valid_after_utc:%Y-%m-%d}")
    return problems


def generate_sp_credentials(common_name: str) -> tuple[str, str]:
    """A fresh RSA-3072 key and a 10-year self-signed certificate (SAML SPs are trusted by key, not by CA)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem_key, certificate_pem(cert)


def ensure_sp_credentials(provider) -> None:
    """Give the provider our key pair on first need (metadata, login): admins never handle private keys.

    Under a row lock, so two first requests do not mint two keys and leave the IdP with the wrong certificate."""
    if provider.secrets.get("sp_private_key") and provider.config.get("sp_certificate"):
        return
    from accounts.models import IdentityProvider
    from audit.services import Actor, audit_record

    with transaction.atomic():
        locked = IdentityProvider.objects.select_for_update().get(pk=provider.pk)
        if not (locked.secrets.get("sp_private_key") and locked.config.get("sp_certificate")):
            key, cert = generate_sp_credentials(f"chatapp SAML SP {locked.organization.slug}/{locked.slug}")
            locked.secrets = {**locked.secrets, "sp_private_key": key}
            locked.config = {**locked.config, "sp_certificate": cert}
            locked.save(update_fields=["secrets", "config", "updated"])
            audit_record(
                org=locked.organization, event=saml_events.SAML_SP_KEYS_CREATED, actor=Actor.system("saml"),
                target=locked,
            )  # fmt: skip
    provider.secrets, provider.config, provider.updated = locked.secrets, locked.config, locked.updated


def usable_idp_certificates(provider, *, now=None) -> list[str]:
    """The configured IdP certificates that are valid now. A certificate that expired after it was configured
    must stop verifying logins (python3-saml checks signatures against a key, never the certificate's dates)."""
    now = now or datetime.datetime.now(datetime.UTC)
    usable = []
    for text in provider.config.get("idp_certificates") or []:
        try:
            cert = load_certificate(text)
        except ValueError:
            continue
        if cert.not_valid_before_utc - CLOCK_SKEW <= now < cert.not_valid_after_utc:
            usable.append(text)
    return usable


# ---------------------------------------------------------------------------------------------- validation


def _url_problem(url: str, *, required: bool) -> str | None:
    if not url:
        return "is required" if required else None
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    # Plain http only for an IdP on this machine (a local Keycloak while trying things out, the tests' IdP).
    if parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1"):
        return None
    return "must be an https:// URL"


def validate(provider) -> dict[str, list[str]]:
    """Field errors of a SAML provider's config (the kind registry's validator)."""
    config, errors = provider.config or {}, []
    if not str(config.get("idp_entity_id", "")).strip():
        errors.append("idp_entity_id is required (the IdP's entity ID / Issuer).")
    for key, required in (("idp_sso_url", True), ("idp_slo_url", False), ("metadata_url", False)):
        value = config.get(key, "")
        problem = _url_problem(value, required=required) if isinstance(value, str) else "must be a URL"
        if problem:
            errors.append(f"{key} {problem}.")
    certs = config.get("idp_certificates")
    if not isinstance(certs, list) or not certs or not all(isinstance(c, str) for c in certs):
        errors.append("idp_certificates needs at least one IdP signing certificate (PEM).")
    else:
        errors += [f"idp_certificates[{i}] {p}." for i, cert in enumerate(certs) for p in certificate_problems(cert)]
    if config.get("sp_certificate") and certificate_problems(config["sp_certificate"]):
        errors.append("sp_certificate is not a usable certificate.")
    if not isinstance(config.get("want_assertions_encrypted", False), bool):
        errors.append("want_assertions_encrypted must be true or false.")
    return {"config": errors} if errors else {}


# ---------------------------------------------------------------------------------------------- python3-saml


def onelogin_settings(
    provider, base: str, *, for_logout: bool = False, for_metadata: bool = False
) -> OneLogin_Saml2_Settings:
    """python3-saml's settings for one provider, strict, RSA-SHA256 or stronger only.

    Responses at the ACS must be signed (response or assertion: Entra signs only the assertion by default);
    logout messages come through the HTTP-Redirect binding, whose signature is in the query string, and
    python3-saml checks that only when messages are "wanted signed": so logout processing asks for it.
    Our metadata always offers the certificate for encryption too, so an admin can turn encryption on at the
    IdP first and require it here afterwards."""
    config, urls = provider.config, sp_urls(provider, base)
    idp = {
        "entityId": config["idp_entity_id"],
        "singleSignOnService": {"url": config["idp_sso_url"], "binding": C.BINDING_HTTP_REDIRECT},
        "x509certMulti": {"signing": usable_idp_certificates(provider) or list(config["idp_certificates"])},
    }
    if config.get("idp_slo_url"):
        idp["singleLogoutService"] = {"url": config["idp_slo_url"], "binding": C.BINDING_HTTP_REDIRECT}
    data = {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": urls["entity_id"],
            "assertionConsumerService": {"url": urls["acs"], "binding": C.BINDING_HTTP_POST},
            "singleLogoutService": {"url": urls["sls"], "binding": C.BINDING_HTTP_REDIRECT},
            "NameIDFormat": C.NAMEID_UNSPECIFIED,
            "x509cert": config.get("sp_certificate", ""),
            "privateKey": provider.secrets.get("sp_private_key", ""),
        },
        "idp": idp,
        "security": {
            "authnRequestsSigned": True,
            "logoutRequestSigned": True,
            "logoutResponseSigned": True,
            "signMetadata": False,
            "wantMessagesSigned": for_logout,
            "wantAssertionsSigned": False,
            "wantAssertionsEncrypted": for_metadata or bool(config.get("want_assertions_encrypted")),
            "wantNameId": True,
            "wantNameIdEncrypted": False,
            "wantAttributeStatement": False,
            "requestedAuthnContext": False,
            "allowRepeatAttributeName": True,
            "rejectDeprecatedAlgorithm": True,
            "signatureAlgorithm": C.RSA_SHA256,
            "digestAlgorithm": C.SHA256,
        },
    }
    return OneLogin_Saml2_Settings(data, sp_validation_only=False)


# Settings objects for the ACS, per provider version: building one re-wraps every PEM and re-validates the
# settings (~5 ms, a quarter of the ACS budget). `updated` changes on every save, so a new key or certificate
# is picked up at once; python3-saml only reads them.
_settings_cache: OrderedDict = OrderedDict()
_settings_lock = threading.Lock()


def cached_onelogin_settings(provider, base: str, certificates: list[str]) -> OneLogin_Saml2_Settings:
    """`certificates`: the usable IdP certificates now (part of the key: one expiring drops out at once)."""
    key = (provider.pk, provider.updated, base, tuple(certificates))
    with _settings_lock:
        found = _settings_cache.get(key)
        if found is not None:
            _settings_cache.move_to_end(key)
            return found
    built = onelogin_settings(provider, base)
    with _settings_lock:
        _settings_cache[key] = built
        while len(_settings_cache) > 256:
            _settings_cache.popitem(last=False)
    return built


class _Schemas(threading.local):
    """Compiled XSDs, per thread (lxml validators are not meant to be shared between threads)."""

    def __init__(self):
        self.compiled = {}


_schemas = _Schemas()


def _validate_xml(xml, schema, debug=False):
    """python3-saml's OneLogin_Saml2_XML.validate_xml, same contract, with the schema compiled once instead of at
    every response (reading and compiling the SAML XSDs cost ~10 ms of each ACS request)."""
    try:
        xml = OneLogin_Saml2_XML.to_etree(xml)
    except Exception:
        return "unloaded_xml"
    validator = _schemas.compiled.get(schema)
    if validator is None:
        with open(os.path.join(os.path.dirname(onelogin_saml2.__file__), "schemas", schema)) as source:
            validator = _schemas.compiled[schema] = etree.XMLSchema(etree.parse(source))
    return xml if validator.validate(xml) else "invalid_xml"


OneLogin_Saml2_XML.validate_xml = staticmethod(_validate_xml)


def request_data(provider, base: str, request, *, path_name: str, urls: dict | None = None) -> dict:
    """python3-saml's view of the request, built from our configured URL, not from the Host header."""
    url = urlsplit((urls or sp_urls(provider, base))[path_name])
    return {
        "https": "on" if url.scheme == "https" else "off",
        "http_host": url.netloc,
        "script_name": url.path,
        "get_data": request.GET.copy(),
        "post_data": request.POST.copy(),
        # Keep the query string exactly as received: redirect-binding signatures are over the raw encoding.
        "query_string": request.META.get("QUERY_STRING", ""),
        "validate_signature_from_qs": True,
    }


# ---------------------------------------------------------------------------------------------- IdP metadata


def parse_idp_metadata(xml: str | bytes, *, entity_id: str | None = None) -> dict:
    """The config fields an IdP's metadata gives (entity ID, SSO/SLO URLs, signing certificates).

    python3-saml's parser refuses DTDs and entities. Raises MetadataError."""
    try:
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(
            xml, required_sso_binding=C.BINDING_HTTP_REDIRECT, required_slo_binding=C.BINDING_HTTP_REDIRECT,
            entity_id=entity_id,
        )  # fmt: skip
    except Exception as exc:  # the parser raises lxml, DTD and plain exceptions alike
        raise MetadataError(f"the metadata cannot be read: {type(exc).__name__}") from None
    idp = parsed.get("idp") or {}
    certs = (idp.get("x509certMulti") or {}).get("signing") or ([idp["x509cert"]] if idp.get("x509cert") else [])
    fields = {
        "idp_entity_id": idp.get("entityId", ""),
        "idp_sso_url": (idp.get("singleSignOnService") or {}).get("url", ""),
        "idp_slo_url": (idp.get("singleLogoutService") or {}).get("url", ""),
        "idp_certificates": [certificate_pem(load_certificate(c)) for c in certs],
    }
    if not (fields["idp_entity_id"] and fields["idp_sso_url"] and fields["idp_certificates"]):
        raise MetadataError("the metadata has no IdP entity ID, HTTP-Redirect SSO URL or signing certificate")
    return fields


def _https_get(url: str) -> bytes:
    """GET through the one SSRF-safe transport (chatapp.kernel.outbound): https, a host name (not an address),
    public addresses only unless SSO_ALLOW_PRIVATE, no redirects (a 3xx is an error), 1 MB, 10 s."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise MetadataError("metadata URLs must be https://")
    try:
        ipaddress.ip_address(parts.hostname)
        raise MetadataError("metadata URLs must name a host, not an address")
    except ValueError:
        pass
    policy = outbound.Policy.from_settings(
        allow_private=settings.SSO_ALLOW_PRIVATE, ports=None, timeout=METADATA_TIMEOUT,
        max_response_bytes=METADATA_MAX_BYTES + 1, user_agent="chatapp-saml/1",
    )  # fmt: skip
    try:
        response = outbound.request(
            "GET", url, policy=policy, headers={"Accept": "application/samlmetadata+xml, application/xml"}
        )
    except outbound.AddressRefused:
        raise MetadataError(f"{parts.hostname} does not resolve to public addresses only") from None
    except outbound.OutboundError as exc:
        raise MetadataError(f"fetching the metadata failed: {exc}") from None
    if response.status != 200:
        raise MetadataError(f"the metadata URL answered {response.status}")
    if response.truncated or len(response.body) > METADATA_MAX_BYTES:
        raise MetadataError("the metadata is larger than 1 MB")
    return response.body


def fetch_idp_metadata(url: str, *, entity_id: str | None = None) -> dict:
    """Fetch and parse an IdP's metadata URL: https only, public addresses only, no redirects, 1 MB, 10 s."""
    return parse_idp_metadata(_https_get(url), entity_id=entity_id)


def sp_metadata_xml(provider, base: str) -> str:
    """Our SP metadata for this provider: entity ID, ACS, SLS, signing and encryption certificate."""
    ensure_sp_credentials(provider)
    metadata = onelogin_settings(provider, base, for_metadata=True).get_sp_metadata()
    return metadata.decode() if isinstance(metadata, bytes) else metadata


kinds.register(KIND, validate=validate, secret_fields=SECRET_FIELDS, login_url=login_url)

from accounts.sso import saml_tasks  # noqa: E402, F401  (registers the Celery tasks: only apps' tasks.py are autodiscovered)


def metadata_import(*, actor, provider, metadata_xml: str = "", metadata_url: str = ""):
    """An admin imports the IdP's metadata, pasted or from a URL (kept for the daily refresh): the fields it gives
    go through the core's identity_provider_update (sso.manage, validation, audit). Exactly one source.

    Raises MetadataError (unreadable, unsafe URL, incomplete) or ValidationError (the result does not validate)."""
    from accounts.services.sso import identity_provider_update  # the core imports the kinds: import at call time

    if provider.kind != KIND:
        raise MetadataError("only SAML identity providers take SAML metadata")
    if bool(metadata_xml) == bool(metadata_url):
        raise MetadataError("give the IdP's metadata XML or its metadata URL (one of the two)")
    if metadata_url:
        fields = {**fetch_idp_metadata(metadata_url), "metadata_url": metadata_url}
    else:
        fields = parse_idp_metadata(metadata_xml)
    with transaction.atomic():
        return identity_provider_update(
            actor=actor, org=provider.organization, provider=provider, config={**provider.config, **fields}
        )
