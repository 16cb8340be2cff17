"""The SAML 2.0 service provider's browser endpoints: login, ACS, single logout, metadata.

Why not allauth's SAML provider (which also runs on python3-saml)? Measured with allauth 65.21 (PITFALLS,
Identity): it logs in a response without AudienceRestriction, one whose Recipient is the ACS URL plus a suffix,
and one signed with an expired IdP certificate; DTDs, entities, non-XML and an empty SAMLResponse end in a 500;
and it keeps the SP private key in clear in a SocialApp row. python3-saml itself, used directly, rejects
signature wrapping, foreign and stripped signatures, SHA-1 and XXE, but it accepts replays, unsolicited
responses, a missing audience, a Recipient that merely starts with the ACS URL and a response up to 300 s past
NotOnOrAfter. So `consume_response` adds exactly those checks around python3-saml, and every refusal is a 4xx
audited through the core's sso_callback_refused with a machine reason (and counted towards the client address's
failure limit: past it the ACS answers 429 without parsing).

Outstanding AuthnRequest IDs (InResponseTo) live in a signed cookie of their own, not in the session: the IdP
posts the response cross-site, and the session cookie is SameSite=Lax, so a browser does not send it with that
POST. The request cookie is SameSite=None (and therefore Secure) on https, so it comes back with the response;
it is per browser, short-lived, and an ID is consumed by its first use.
"""

import datetime
import hashlib
import time
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout as django_logout
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from lxml.etree import LxmlError
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.errors import OneLogin_Saml2_ValidationError as VE
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xmlparser import DTDForbidden, EntitiesForbidden, NotSupportedError

from accounts.auth.sso import sso_throttled_page
from accounts.models import IdentityProvider
from accounts.services.mfa import recently_verified
from accounts.services.sso import (
    SsoIdentity,
    SsoRefused,
    sso_callback_refused,
    sso_login,
    sso_throttled,
)
from accounts.sso import saml, saml_events
from rbac.permissions import SSO_MANAGE
from rbac.services import has_perm

REQUESTS_COOKIE = "chatapp_saml_requests"
REQUESTS_SALT = "accounts.saml.outstanding-requests"
REQUEST_LIFETIME = 600  # seconds a browser has to come back from the IdP
MAX_OUTSTANDING = 5  # per browser: a few tabs, not an unbounded cookie
SESSION_KEY = "chatapp_saml"  # {provider, name_id, name_id_format, session_index}: what SLO needs

# python3-saml's validation codes, as the audit's reasons.
_REASONS = {
    VE.INVALID_SIGNATURE: "bad_signature", VE.NO_SIGNATURE_FOUND: "bad_signature",
    VE.NO_SIGNED_MESSAGE: "bad_signature", VE.NO_SIGNED_ASSERTION: "bad_signature",
    VE.WRONG_SIGNED_ELEMENT: "bad_signature", VE.ID_NOT_FOUND_IN_SIGNED_ELEMENT: "bad_signature",
    VE.DUPLICATED_ID_IN_SIGNED_ELEMENTS: "bad_signature", VE.INVALID_SIGNED_ELEMENT: "bad_signature",
    VE.DUPLICATED_REFERENCE_IN_SIGNED_ELEMENTS: "bad_signature", VE.UNEXPECTED_SIGNED_ELEMENTS: "bad_signature",
    VE.WRONG_NUMBER_OF_SIGNATURES_IN_RESPONSE: "bad_signature", VE.WRONG_NUMBER_OF_SIGNATURES: "bad_signature",
    VE.WRONG_NUMBER_OF_SIGNATURES_IN_ASSERTION: "bad_signature", VE.WRONG_NUMBER_OF_ASSERTIONS: "bad_signature",
    VE.DEPRECATED_SIGNATURE_METHOD: "weak_algorithm", VE.DEPRECATED_DIGEST_METHOD: "weak_algorithm",
    VE.ASSERTION_EXPIRED: "expired", VE.SESSION_EXPIRED: "expired", VE.RESPONSE_EXPIRED: "expired",
    VE.ASSERTION_TOO_EARLY: "not_yet_valid", VE.WRONG_AUDIENCE: "wrong_audience",
    VE.WRONG_DESTINATION: "wrong_destination", VE.EMPTY_DESTINATION: "wrong_destination",
    VE.WRONG_ISSUER: "wrong_issuer", VE.ISSUER_MULTIPLE_IN_RESPONSE: "wrong_issuer",
    VE.ISSUER_NOT_FOUND_IN_ASSERTION: "wrong_issuer", VE.WRONG_INRESPONSETO: "wrong_in_response_to",
    VE.STATUS_CODE_IS_NOT_SUCCESS: "idp_refused", VE.NO_ENCRYPTED_ASSERTION: "not_encrypted",
    VE.WRONG_SUBJECTCONFIRMATION: "wrong_subject_confirmation", VE.NO_NAMEID: "missing_name_id",
    VE.EMPTY_NAMEID: "missing_name_id", VE.INVALID_XML_FORMAT: "malformed",
}  # fmt: skip
_MESSAGES = {
    "malformed": "The sign-in response could not be read.",
    "xml_forbidden": "The sign-in response contained XML constructs we never accept.",
    "replay": "This sign-in response was already used. Start the sign-in again.",
    "expired": "The sign-in response has expired. Start the sign-in again.",
    "unsolicited": "Sign-in must start here, not at the identity provider.",
    "provider_disabled": "Sign-in with this identity provider is turned off.",
}


class SamlRefusal(Exception):
    def __init__(self, reason: str, detail: str = "", *, status: int = 403, email: str = ""):
        super().__init__(reason)
        self.reason, self.detail, self.status, self.email = reason, detail, status, email


@dataclass(frozen=True)
class Consumed:
    identity: SsoIdentity
    request_id: str  # the AuthnRequest it answers ("" when IdP-initiated)
    name_id: str
    name_id_format: str
    session_index: str


# ---------------------------------------------------------------------------------------------- helpers


def _provider(org_slug: str, provider_slug: str) -> IdentityProvider:
    provider = (
        IdentityProvider.objects.select_related("organization")
        .filter(organization__slug=org_slug, slug=provider_slug, kind=saml.KIND)
        .first()
    )
    if provider is None:
        raise Http404("No such SAML identity provider.")
    return provider


def _refuse(request, provider, refusal: SamlRefusal) -> HttpResponse:
    sso_callback_refused(request, provider=provider, reason=refusal.reason, email=refusal.email, detail=refusal.detail)
    message = _MESSAGES.get(refusal.reason, "The identity provider's sign-in response was refused.")
    context = {"provider": provider, "message": message, "reason": refusal.reason}
    return render(request, "accounts/saml/error.html", context, status=refusal.status)


def _outstanding(request) -> list[list]:
    """[[request_id, provider_pk, next, expires_at], ...] still valid for this browser."""
    try:
        entries = signing.loads(request.COOKIES.get(REQUESTS_COOKIE, ""), salt=REQUESTS_SALT, max_age=REQUEST_LIFETIME)
    except signing.BadSignature:
        return []
    now = time.time()
    return [e for e in entries if isinstance(e, list) and len(e) == 4 and e[3] > now]


def _store_outstanding(request, response, entries: list[list]) -> None:
    if not entries:
        response.delete_cookie(REQUESTS_COOKIE, path="/accounts/saml/")
        return
    secure = request.is_secure()
    response.set_cookie(
        REQUESTS_COOKIE, signing.dumps(entries[-MAX_OUTSTANDING:], salt=REQUESTS_SALT, compress=True),
        max_age=REQUEST_LIFETIME, path="/accounts/saml/", httponly=True, secure=secure,
        # Cross-site POST from the IdP must carry it; browsers only accept SameSite=None with Secure.
        samesite="None" if secure else "Lax",
    )  # fmt: skip


def _safe_next(request, url: str) -> str:
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=False):
        return url
    return settings.LOGIN_REDIRECT_URL


def _time(value: str | None) -> datetime.datetime | None:
    return (
        datetime.datetime.fromtimestamp(OneLogin_Saml2_Utils.parse_SAML_to_time(value), datetime.UTC) if value else None
    )


def _first(attributes: dict, name: str | None) -> str:
    values = attributes.get(name) or [] if name else []
    return str(values[0]).strip() if values else ""


# ---------------------------------------------------------------------------------------------- the ACS checks


def consume_response(provider, *, base: str, encoded: str, request, outstanding_ids: set[str]) -> Consumed:
    """Validate a base64 SAMLResponse for `provider` and return who it signs in. Raises SamlRefusal.

    Our checks run on the assertion python3-saml selects by its signature reference, before python3-saml's
    own validation (so an expired or misdirected response is refused with that reason, not a vaguer one);
    nothing is accepted until python3-saml has verified the signature; the replay cache is written last, so
    only authentic assertions occupy it."""
    if not encoded or not isinstance(encoded, str):
        raise SamlRefusal("malformed", "no SAMLResponse", status=400)
    urls = saml.sp_urls(provider, base)
    try:
        raw = OneLogin_Saml2_Utils.b64decode(encoded)
    except ValueError:
        raise SamlRefusal("malformed", "not base64", status=400) from None
    # Comments split text nodes: a NameID "victim@x.test<!---->.evil.test" is signed as one value but some
    # parsers read only the first part (CVE-2017-11427 class). python3-saml drops comments before reading, which
    # is safe, but no IdP needs them: refuse outright rather than depend on that.
    if b"<!--" in raw:
        raise SamlRefusal("xml_comment", "the response contains an XML comment", status=400)
    certificates = saml.usable_idp_certificates(provider)
    if not certificates:
        raise SamlRefusal("idp_certificate_expired", "no configured IdP certificate is valid now")
    saml_settings = saml.cached_onelogin_settings(provider, base, certificates)  # a settings error is ours: 500
    try:
        response = OneLogin_Saml2_Response(saml_settings, encoded)
    except (DTDForbidden, EntitiesForbidden, NotSupportedError):
        raise SamlRefusal("xml_forbidden", "DTD or entity declaration", status=400) from None
    except Exception as exc:  # lxml syntax errors, undecryptable EncryptedAssertion, missing keys...
        raise SamlRefusal("malformed", type(exc).__name__, status=400) from None
    try:
        request_id = _check_response(provider, response, urls=urls, outstanding_ids=outstanding_ids)
        response.is_valid(
            saml.request_data(provider, base, request, path_name="acs", urls=urls), request_id=request_id or None,
            raise_exceptions=True,
        )  # fmt: skip
        name_id = response.get_nameid()
        name_id_format = response.get_nameid_format() or ""
        attributes = response.get_attributes()
        assertion_id = response.get_assertion_id()
        session_index = response.get_session_index() or ""
    except SamlRefusal:
        raise
    except VE as exc:
        raise SamlRefusal(_REASONS.get(exc.code, "invalid_response"), str(exc)[:200]) from None
    except (LxmlError, ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        raise SamlRefusal("malformed", type(exc).__name__, status=400) from None

    _not_replayed(provider, assertion_id, response, email=name_id)
    return Consumed(
        identity=_identity(provider, name_id, attributes), request_id=request_id, name_id=name_id,
        name_id_format=name_id_format, session_index=session_index,
    )  # fmt: skip


def _check_response(provider, response, *, urls: dict, outstanding_ids: set[str]) -> str:
    """What python3-saml lets through: exact Destination and Recipient, a present audience, 60 s skew,
    InResponseTo of this browser (or IdP-initiated allowed). Returns the request ID answered ("" if none)."""
    document, acs = response.document, urls["acs"]
    if document.get("Destination") != acs:
        raise SamlRefusal("wrong_destination", f"Destination {document.get('Destination')!r}"[:200])

    restrictions = response._query_assertion("/saml:Conditions/saml:AudienceRestriction")
    if not restrictions:
        raise SamlRefusal("wrong_audience", "no AudienceRestriction")
    for restriction in restrictions:  # every restriction must admit us (SAML core 2.5.1.4)
        audiences = [(a.text or "").strip() for a in restriction.findall("saml:Audience", namespaces=C.NSMAP)]
        if urls["entity_id"] not in audiences:
            raise SamlRefusal("wrong_audience", f"audiences {audiences!r}"[:200])

    confirmations = response._query_assertion(
        f"/saml:Subject/saml:SubjectConfirmation[@Method='{C.CM_BEARER}']/saml:SubjectConfirmationData"
    )
    if not confirmations:
        raise SamlRefusal("wrong_subject_confirmation", "no bearer SubjectConfirmationData")
    for data in confirmations:
        if data.get("Recipient") != acs:
            raise SamlRefusal("wrong_destination", f"Recipient {data.get('Recipient')!r}"[:200])

    now = datetime.datetime.now(datetime.UTC)
    conditions = response._query_assertion("/saml:Conditions")
    not_before = [t for c in conditions if (t := _time(c.get("NotBefore")))]
    not_after = [t for node in [*conditions, *confirmations] if (t := _time(node.get("NotOnOrAfter")))]
    if any(t - saml.CLOCK_SKEW > now for t in not_before):
        raise SamlRefusal("not_yet_valid", f"NotBefore {min(not_before).isoformat()}")
    if not not_after:
        raise SamlRefusal("expired", "no NotOnOrAfter: the assertion would be valid forever")
    if now >= min(not_after) + saml.CLOCK_SKEW:
        raise SamlRefusal("expired", f"NotOnOrAfter {min(not_after).isoformat()}")

    # The assertion's (signed) InResponseTo and the response's must agree; either one names the request.
    answered = {value for node in [document, *confirmations] if (value := node.get("InResponseTo"))}
    if len(answered) > 1:
        raise SamlRefusal("wrong_in_response_to", "InResponseTo values disagree")
    request_id = next(iter(answered), "")
    if request_id and request_id not in outstanding_ids:
        raise SamlRefusal("wrong_in_response_to", "not a request this browser made (or already answered)")
    if not request_id and not provider.allow_idp_initiated:
        raise SamlRefusal("unsolicited", "IdP-initiated login is off for this provider")
    return request_id


def _not_replayed(provider, assertion_id: str, response, *, email: str) -> None:
    """Remember the assertion ID until it expires; a second use is refused. cache.add is atomic on Redis."""
    if not assertion_id:
        raise SamlRefusal("malformed", "assertion without ID", status=400)
    not_after = [response.get_assertion_not_on_or_after(), response.valid_scd_not_on_or_after]
    ttl = max(int(min(t for t in not_after if t) - time.time() + saml.CLOCK_SKEW.total_seconds()), 1)
    issuer = hashlib.sha256(provider.config["idp_entity_id"].encode()).hexdigest()[:16]
    key = f"saml:assertion:{issuer}:{hashlib.sha256(assertion_id.encode()).hexdigest()}"
    if not cache.add(key, 1, timeout=ttl):
        raise SamlRefusal("replay", f"assertion {assertion_id[:80]} was already used", email=email)


def _identity(provider, name_id: str, attributes: dict) -> SsoIdentity:
    mapping = provider.attribute_map or {}
    email = _first(attributes, mapping.get("email")) if mapping.get("email") else name_id
    if "@" not in email:
        raise SamlRefusal("missing_email", "no e-mail address in the NameID or the mapped attribute")
    full_name = _first(attributes, mapping.get("full_name")) or " ".join(
        part
        for part in (_first(attributes, mapping.get("first_name")), _first(attributes, mapping.get("last_name")))
        if part
    )
    groups = tuple(str(g) for g in attributes.get(mapping["groups"], [])) if mapping.get("groups") else ()
    return SsoIdentity(
        subject=name_id, email=email.strip().lower(), full_name=full_name[:150], groups=groups,
        attributes={name: list(values) for name, values in attributes.items()},
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------- views


@never_cache
@require_GET
def login(request, org, idp):
    """SP-initiated login: a signed AuthnRequest to the IdP, its ID remembered by this browser."""
    provider = _provider(org, idp)
    if not provider.enabled:
        return _refuse(request, provider, SamlRefusal("provider_disabled"))
    saml.ensure_sp_credentials(provider)
    base = saml.base_url(request)
    auth = OneLogin_Saml2_Auth(
        saml.request_data(provider, base, request, path_name="login"), saml.onelogin_settings(provider, base)
    )
    next_url = _safe_next(request, request.GET.get("next", ""))
    redirect_url = auth.login(return_to=next_url)
    response = HttpResponseRedirect(redirect_url)
    entries = [
        *_outstanding(request),
        [auth.get_last_request_id(), provider.pk, next_url, time.time() + REQUEST_LIFETIME],
    ]
    _store_outstanding(request, response, entries)
    return response


@csrf_exempt  # the IdP's auto-submitted form posts here cross-site; the signed response is the proof
@never_cache
@require_POST
def acs(request, org, idp):
    """Assertion consumer service (HTTP-POST binding)."""
    provider = _provider(org, idp)
    if (retry_after := sso_throttled(request, provider=provider)) is not None:
        return sso_throttled_page(request, provider, retry_after)
    if not provider.enabled:
        return _refuse(request, provider, SamlRefusal("provider_disabled"))
    saml.ensure_sp_credentials(provider)  # decrypting needs our key even when the login started at the IdP
    outstanding = [e for e in _outstanding(request) if e[1] == provider.pk]
    try:
        consumed = consume_response(
            provider, base=saml.base_url(request), encoded=request.POST.get("SAMLResponse", ""), request=request,
            outstanding_ids={e[0] for e in outstanding},
        )  # fmt: skip
    except SamlRefusal as refusal:
        return _refuse(request, provider, refusal)
    try:
        sso_login(request, provider=provider, identity=consumed.identity)
    except SsoRefused as exc:  # audited by the core
        context = {"provider": provider, "message": exc.message, "reason": exc.reason}
        return render(request, "accounts/saml/error.html", context, status=403)
    request.session[SESSION_KEY] = {
        "provider": provider.pk, "name_id": consumed.name_id, "name_id_format": consumed.name_id_format,
        "session_index": consumed.session_index,
    }  # fmt: skip
    if consumed.request_id:
        next_url = next(e[2] for e in outstanding if e[0] == consumed.request_id)
    else:
        next_url = _safe_next(request, request.POST.get("RelayState", ""))
    response = HttpResponseRedirect(_safe_next(request, next_url))
    _store_outstanding(request, response, [e for e in _outstanding(request) if e[0] != consumed.request_id])
    return response


@never_cache
@require_http_methods(["POST"])
def logout(request, org, idp):
    """SP-initiated single logout: end our session now, then tell the IdP (when it has an SLO endpoint)."""
    provider = _provider(org, idp)
    state = request.session.get(SESSION_KEY) or {}
    user = request.user if request.user.is_authenticated else None
    redirect_url = settings.ACCOUNT_LOGOUT_REDIRECT_URL
    if user is not None and state.get("provider") == provider.pk and provider.config.get("idp_slo_url"):
        base = saml.base_url(request)
        auth = OneLogin_Saml2_Auth(
            saml.request_data(provider, base, request, path_name="sls"), saml.onelogin_settings(provider, base)
        )
        redirect_url = auth.logout(
            return_to=base + settings.ACCOUNT_LOGOUT_REDIRECT_URL, name_id=state.get("name_id"),
            session_index=state.get("session_index") or None, name_id_format=state.get("name_id_format") or None,
        )  # fmt: skip
    if user is not None:
        _audit_logout(provider, user, initiated_by="sp")
    django_logout(request)
    return HttpResponseRedirect(redirect_url)


def _audit_logout(provider, user, *, initiated_by: str) -> None:
    from audit.services import audit_record

    with transaction.atomic():
        audit_record(
            org=provider.organization, event=saml_events.SAML_LOGOUT, actor=user, target=provider,
            metadata={"initiated_by": initiated_by},
        )  # fmt: skip


@never_cache
@require_GET
def sls(request, org, idp):
    """Single logout service (HTTP-Redirect): the IdP's LogoutRequest (IdP-initiated: end this browser's session
    if it belongs to the named subject, answer with a signed LogoutResponse) or its LogoutResponse to ours."""
    provider = _provider(org, idp)
    if not provider.config.get("idp_slo_url"):
        raise Http404("This identity provider has no single logout.")
    saml.ensure_sp_credentials(provider)
    base = saml.base_url(request)
    auth = OneLogin_Saml2_Auth(
        saml.request_data(provider, base, request, path_name="sls"),
        saml.onelogin_settings(provider, base, for_logout=True),
    )
    state = request.session.get(SESSION_KEY) or {}
    ended = []

    def end_session():
        from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request

        name_id = OneLogin_Saml2_Logout_Request.get_nameid(auth.get_last_request_xml())
        if request.user.is_authenticated and state.get("provider") == provider.pk and state.get("name_id") == name_id:
            ended.append(request.user)
            django_logout(request)

    try:
        redirect_url = auth.process_slo(keep_local_session=False, delete_session_cb=end_session)
    except Exception as exc:  # no message, bad base64/deflate, XML errors (DTDs included)
        return _refuse(request, provider, SamlRefusal("bad_logout_message", type(exc).__name__, status=400))
    if auth.get_errors():
        detail = f"{', '.join(auth.get_errors())}: {auth.get_last_error_reason() or ''}"[:200]
        return _refuse(request, provider, SamlRefusal("bad_logout_message", detail, status=400))
    for user in ended:
        _audit_logout(provider, user, initiated_by="idp")
    return HttpResponseRedirect(redirect_url or settings.ACCOUNT_LOGOUT_REDIRECT_URL)


@require_GET
def metadata(request, org, idp):
    """Our SP metadata for this provider, to upload to the IdP (served even while the provider is disabled,
    since the IdP side is usually set up first)."""
    provider = _provider(org, idp)
    xml = saml.sp_metadata_xml(provider, saml.base_url(request))
    return HttpResponse(xml, content_type="application/samlmetadata+xml")


class MetadataImportForm(forms.Form):
    metadata_xml = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 8}), max_length=1_000_000)
    metadata_url = forms.URLField(required=False, max_length=500, assume_scheme="https")

    def clean(self):
        data = super().clean()
        if bool(data.get("metadata_xml")) == bool(data.get("metadata_url")):
            raise forms.ValidationError("Paste the IdP's metadata XML or give its metadata URL (one of the two).")
        return data


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def setup(request, org, idp):
    """For the organization's SSO admins (sso.manage): what to paste into the IdP (entity ID, ACS URL, metadata
    URL, our certificate), and an import of the IdP's metadata from pasted XML or a URL (kept for the daily
    refresh). Writes go through the core's identity_provider_update (validation, audit) after a step-up."""
    provider = _provider(org, idp)
    if not has_perm(user=request.user, org=provider.organization, perm=SSO_MANAGE):
        raise Http404("No such SAML identity provider.")  # no hint that it exists
    saml.ensure_sp_credentials(provider)
    base = saml.base_url(request)
    form = MetadataImportForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if not recently_verified(request):
            return redirect(f"/accounts/reverify/?next={request.path}")
        if form.is_valid():
            try:
                saml.metadata_import(
                    actor=request.user, provider=provider, metadata_xml=form.cleaned_data["metadata_xml"],
                    metadata_url=form.cleaned_data["metadata_url"],
                )  # fmt: skip
            except saml.MetadataError as exc:
                form.add_error(None, str(exc))
            except ValidationError as exc:
                for field_messages in exc.message_dict.values():
                    for message in field_messages:
                        form.add_error(None, message)
            else:
                messages.success(request, "The identity provider's metadata was imported.")
                return redirect(request.path)
        status = 400
    context = {"provider": provider, "urls": saml.sp_urls(provider, base), "form": form,
               "sp_certificate": provider.config.get("sp_certificate", "")}  # fmt: skip
    return render(request, "accounts/saml/setup.html", context, status=status)
