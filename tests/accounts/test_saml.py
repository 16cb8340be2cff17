"""The SAML service provider against a test IdP with real keys (tests/accounts/saml_idp.py): logins, every
refusal the issue lists (each a 4xx with an sso.login_failed audit event and its reason), encryption, single
logout, metadata, configuration and the scheduled tasks."""

import base64
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.db import connection
from django.test import Client
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from accounts.models import IdentityProvider, User
from accounts.sso import saml
from audit.models import AuditEvent
from rbac.models import IdentityGroupMapping, Team, TeamMember
from tests.accounts.saml_idp import TestIdP, encrypt_assertion, instant, keypair, sign

BASE = "https://chat.example.test"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _base_url(settings):
    settings.SAML_SP_BASE_URL = BASE


@pytest.fixture(scope="module")
def idp():
    return TestIdP()


@pytest.fixture
def provider(acme, idp):
    return IdentityProvider.objects.create(
        organization=acme.org, kind="saml", slug="okta", name="Okta", email_domains=["acme.test"],
        jit_provisioning=True, attribute_map={"full_name": "displayName", "groups": "groups"},
        config=idp.config(),
    )  # fmt: skip


def urls(provider):
    return saml.sp_urls(provider, BASE)


def path(provider, name):
    return urlsplit(urls(provider)[name]).path


def start_login(client, provider, next_url="/accounts/security/") -> str:
    """SP-initiated: follow our redirect to the IdP and read the AuthnRequest's ID."""
    response = client.get(path(provider, "login"), {"next": next_url})
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == provider.config["idp_sso_url"]
    assert query["SigAlg"] == [C.RSA_SHA256] and query["Signature"]  # our AuthnRequests are signed
    xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(query["SAMLRequest"][0]).decode()
    assert f'AssertionConsumerServiceURL="{urls(provider)["acs"]}"' in xml
    return re.search(r'ID="([^"]+)"', xml).group(1)


def good(idp, provider, request_id=None, **kw):
    u = urls(provider)
    kw.setdefault("attributes", {"displayName": ["Ann Example"], "groups": ["engineering"]})
    kw.setdefault("audience", u["entity_id"])
    kw.setdefault("name_id", "ann@acme.test")
    return idp.response(acs=u["acs"], in_response_to=request_id, **kw)


def post(client, provider, xml, **extra):
    data = {"SAMLResponse": xml if extra.pop("raw", False) else TestIdP.encode(xml), **extra}
    return client.post(path(provider, "acs"), data)


def failures(provider):
    return list(
        AuditEvent.objects.filter(event_name="sso.login_failed", target_id=str(provider.pk))
        .order_by("id")
        .values_list("metadata", flat=True)
    )


def assert_refused(client, provider, response, reason, status=(400, 403)):
    assert response.status_code in ((status,) if isinstance(status, int) else status), failures(provider)
    assert "_auth_user_id" not in client.session
    reasons = [m["reason"] for m in failures(provider)]
    assert reasons and reasons[-1] == reason, reasons


# --------------------------------------------------------------------------------------------- logins


def test_sp_initiated_login_creates_the_user_with_mapped_team(client, provider, idp, acme):
    team = Team.objects.create(organization=acme.org, name="Engineering")
    IdentityGroupMapping.objects.create(organization=acme.org, provider="okta", group_name="engineering", team=team)
    request_id = start_login(client, provider, next_url="/accounts/security/")

    response = post(client, provider, good(idp, provider, request_id))

    assert response.status_code == 302 and response["Location"] == "/accounts/security/"
    user = User.objects.get(email="ann@acme.test")
    assert user.full_name == "Ann Example"
    assert int(client.session["_auth_user_id"]) == user.pk
    assert TeamMember.objects.filter(team=team, user=user).exists()
    assert AuditEvent.objects.filter(event_name="sso.login", actor_id=str(user.pk)).exists()
    # The request ID was consumed: the same answer cannot be used again in this browser.
    assert not failures(provider)


def test_response_signed_on_the_message_and_by_a_second_certificate_is_accepted(client, provider, idp):
    """Certificate rollover: the IdP has started signing with its new key; both certificates are configured."""
    new_key, new_cert = keypair("IdP 2027")
    provider.config["idp_certificates"] = [idp.cert, new_cert]
    provider.save()
    request_id = start_login(client, provider)
    xml = good(idp, provider, request_id, sign_assertion=False, sign_response=True, key=new_key, cert=new_cert)
    assert post(client, provider, xml).status_code == 302
    assert "_auth_user_id" in client.session


def test_signatures_of_an_expired_idp_certificate_are_refused(client, provider, idp):
    """The certificate was valid when configured and has expired since: its signatures no longer count."""
    old_key, old_cert = keypair("IdP 2024", days=-1, not_before_days=400)
    provider.config["idp_certificates"] = [old_cert]
    provider.save()
    request_id = start_login(client, provider)
    xml = good(idp, provider, request_id, key=old_key, cert=old_cert)
    assert_refused(client, provider, post(client, provider, xml), "idp_certificate_expired", 403)
    # Next to a valid one, the expired one simply no longer verifies anything.
    provider.config["idp_certificates"] = [old_cert, idp.cert]
    provider.save()
    request_id = start_login(client, provider)
    xml = good(idp, provider, request_id, key=old_key, cert=old_cert)
    assert_refused(client, provider, post(client, provider, xml), "bad_signature", 403)


def test_idp_initiated_login_when_allowed(client, provider, idp):
    provider.allow_idp_initiated = True
    provider.save()
    response = post(client, provider, good(idp, provider), RelayState="/accounts/security/")
    assert response.status_code == 302, failures(provider)
    assert response["Location"] == "/accounts/security/"
    # An off-site RelayState is not followed.
    client2 = Client()
    response = post(client2, provider, good(idp, provider), RelayState="https://evil.example/")
    assert response.status_code == 302 and response["Location"] == "/accounts/security/"


def test_encrypted_assertion(client, provider, idp):
    saml.ensure_sp_credentials(provider)
    provider.config["want_assertions_encrypted"] = True
    provider.save()
    request_id = start_login(client, provider)
    xml = good(idp, provider, request_id, encrypt_to=provider.config["sp_certificate"])
    assert "EncryptedAssertion" in xml and "ann@acme.test" not in xml
    assert post(client, provider, xml).status_code == 302
    # Required encryption: a plain assertion is refused.
    client2 = Client()
    request_id = start_login(client2, provider)
    assert_refused(client2, provider, post(client2, provider, good(idp, provider, request_id)), "not_encrypted")


def test_skew_of_up_to_60_seconds_is_tolerated(client, provider, idp):
    request_id = start_login(client, provider)
    xml = good(idp, provider, request_id, not_before=instant(45), not_on_or_after=instant(-45))
    assert post(client, provider, xml).status_code == 302


def test_no_account_and_jit_off_is_refused_by_the_core(client, provider, idp):
    provider.jit_provisioning = False
    provider.save()
    request_id = start_login(client, provider)
    assert_refused(client, provider, post(client, provider, good(idp, provider, request_id)), "unknown_user", 403)


# --------------------------------------------------------------------------------------------- refusals


def _wrapped(idp, provider, request_id):
    """Signature wrapping (XSW): the genuine signed assertion of the attacker is kept, moved into an element
    the signature still covers by ID, and an unsigned assertion for the victim takes its place."""
    xml = good(idp, provider, request_id, name_id="mallory@acme.test")
    genuine = re.search(r"<saml:Assertion .*</saml:Assertion>", xml, re.S).group(0)
    evil = re.sub(r"mallory@acme\.test", "owner@acme.test", genuine)
    evil = re.sub(r'ID="[^"]+"', 'ID="_evil"', evil, count=1)
    evil = re.sub(r"<ds:Signature.*</ds:Signature>", "", evil, flags=re.S)
    return xml.replace(
        genuine, evil.replace("</saml:Issuer>", f"</saml:Issuer><saml:Advice>{genuine}</saml:Advice>", 1)
    )


def _altered(idp, provider, request_id):
    return good(idp, provider, request_id).replace("ann@acme.test", "owner@acme.test")


def _other_key(idp, provider, request_id):
    key, cert = keypair("Not the IdP")
    return good(idp, provider, request_id, key=key, cert=cert)


def _comment(idp, provider, request_id):
    # The IdP signed "owner@acme.test.evil.test"; the comment tries to make a lax parser read "owner@acme.test".
    xml = good(idp, provider, request_id, name_id="owner@acme.test.evil.test")
    return xml.replace("owner@acme.test.evil.test<", "owner@acme.test<!---->.evil.test<", 1)


def _dtd(idp, provider, request_id):
    return '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + good(
        idp, provider, request_id
    ).replace("ann@acme.test", "&e;", 1)


def _billion_laughs(idp, provider, request_id):
    return (
        '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        + good(idp, provider, request_id).replace("ann@acme.test", "&lol2;", 1)
    )


def _sha1(idp, provider, request_id):
    return good(idp, provider, request_id, algorithm=C.RSA_SHA1, digest=C.SHA1)


REFUSALS = {
    "unsigned": (lambda i, p, r: good(i, p, r, sign_assertion=False), "bad_signature"),
    "signed by another key": (_other_key, "bad_signature"),
    "altered after signing": (_altered, "bad_signature"),
    "signature wrapping": (_wrapped, "bad_signature"),
    "rsa-sha1": (_sha1, "weak_algorithm"),
    "expired": (lambda i, p, r: good(i, p, r, not_on_or_after=instant(-90), scd_not_on_or_after=instant(-90)),
                "expired"),
    "expired conditions only (python3-saml allows 300 s)": (
        lambda i, p, r: good(i, p, r, not_on_or_after=instant(-120)), "expired"),
    "no expiry at all": (lambda i, p, r: good(i, p, r, not_on_or_after=None, scd_not_on_or_after=None), "expired"),
    "not yet valid": (lambda i, p, r: good(i, p, r, not_before=instant(120)), "not_yet_valid"),
    "missing audience": (lambda i, p, r: good(i, p, r, audience=None), "wrong_audience"),
    "wrong audience": (lambda i, p, r: good(i, p, r, audience="https://other.example/sp"), "wrong_audience"),
    "audience prefix": (lambda i, p, r: good(i, p, r, audience=urls(p)["entity_id"][:-1]), "wrong_audience"),
    "wrong destination": (lambda i, p, r: good(i, p, r, destination="https://evil.example/acs/"),
                          "wrong_destination"),
    "destination prefix": (lambda i, p, r: good(i, p, r, destination=urls(p)["acs"][:-1]), "wrong_destination"),
    "destination suffix": (lambda i, p, r: good(i, p, r, destination=urls(p)["acs"] + "x"), "wrong_destination"),
    "missing destination": (lambda i, p, r: good(i, p, r, destination=None), "wrong_destination"),
    "recipient suffix": (lambda i, p, r: good(i, p, r, recipient=urls(p)["acs"] + "evil"), "wrong_destination"),
    "recipient prefix": (lambda i, p, r: good(i, p, r, recipient=urls(p)["acs"][:-1]), "wrong_destination"),
    "missing recipient": (lambda i, p, r: good(i, p, r, recipient=None), "wrong_destination"),
    "wrong issuer": (lambda i, p, r: good(i, p, r, issuer="https://evil.example/idp"), "wrong_issuer"),
    "unknown InResponseTo": (lambda i, p, r: good(i, p, "_someone_elses_request"), "wrong_in_response_to"),
    "unsolicited when IdP-initiated is off": (lambda i, p, r: good(i, p, None), "unsolicited"),
    "IdP error status": (lambda i, p, r: good(i, p, r, status="urn:oasis:names:tc:SAML:2.0:status:Requester"),
                         "idp_refused"),
    "NameID with an embedded comment": (_comment, "xml_comment"),
    "DTD with an external entity": (_dtd, "xml_forbidden"),
    "entity expansion": (_billion_laughs, "xml_forbidden"),
    "not XML": (lambda i, p, r: "this is not XML <", "malformed"),
}  # fmt: skip


@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_refused_with_4xx_and_audited(client, provider, idp, case):
    build, reason = REFUSALS[case]
    request_id = start_login(client, provider)
    response = post(client, provider, build(idp, provider, request_id))
    assert_refused(client, provider, response, reason)
    assert not User.objects.filter(email="ann@acme.test").exists()


@pytest.mark.parametrize("value", ["", "!!!not base64!!!", base64.b64encode(b"\x00\xff garbage").decode()])
def test_empty_or_garbage_saml_response_is_a_400(client, provider, value):
    response = client.post(path(provider, "acs"), {"SAMLResponse": value})
    assert_refused(client, provider, response, "malformed", 400)


def test_replayed_response_is_refused_even_in_another_browser(client, provider, idp):
    provider.allow_idp_initiated = True  # the replay cache, not the request ID, must stop it
    provider.save()
    xml = good(idp, provider)
    assert post(client, provider, xml).status_code == 302
    other = Client()
    assert_refused(other, provider, post(other, provider, xml), "replay")


def test_answer_to_a_request_of_another_browser_is_refused(client, provider, idp):
    request_id = start_login(client, provider)
    other = Client()
    assert_refused(other, provider, post(other, provider, good(idp, provider, request_id)), "wrong_in_response_to")


def test_disabled_provider_refuses(client, provider, idp):
    provider.enabled = False
    provider.save()
    assert_refused(client, provider, post(client, provider, good(idp, provider)), "provider_disabled", 403)


def test_unknown_provider_is_a_404(client, provider):
    assert client.post("/accounts/saml/acme/nope/acs/", {"SAMLResponse": "x"}).status_code == 404


def test_get_on_the_acs_is_a_405(client, provider):
    assert client.get(path(provider, "acs")).status_code == 405


# --------------------------------------------------------------------------------------------- logout


def _log_in(client, idp, provider):
    request_id = start_login(client, provider)
    assert post(client, provider, good(idp, provider, request_id)).status_code == 302


def test_idp_initiated_logout_ends_the_session_and_answers_signed(client, provider, idp):
    _log_in(client, idp, provider)
    query = idp.logout_request_query(destination=urls(provider)["sls"], name_id="ann@acme.test")
    response = client.get(f"{path(provider, 'sls')}?{query}")
    assert response.status_code == 302
    answer = parse_qs(urlsplit(response["Location"]).query)
    assert response["Location"].startswith(idp.slo_url) and answer["Signature"]
    xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(answer["SAMLResponse"][0]).decode()
    assert C.STATUS_SUCCESS in xml
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(event_name="saml.logout", metadata__initiated_by="idp").exists()


def test_unsigned_or_foreign_logout_request_is_refused(client, provider, idp):
    _log_in(client, idp, provider)
    xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(
        parse_qs(idp.logout_request_query(destination=urls(provider)["sls"], name_id="ann@acme.test"))["SAMLRequest"][0]
    ).decode()
    unsigned = idp.redirect_query("SAMLRequest", xml, signed=False)
    assert client.get(f"{path(provider, 'sls')}?{unsigned}").status_code == 400
    assert failures(provider)[-1]["reason"] == "bad_logout_message"
    foreign = idp.redirect_query("SAMLRequest", xml, key=keypair()[0])
    response = client.get(f"{path(provider, 'sls')}?{foreign}")
    assert response.status_code == 400
    assert int(client.session["_auth_user_id"]) == User.objects.get(email="ann@acme.test").pk
    assert client.get(f"{path(provider, 'sls')}?SAMLRequest=%%%").status_code == 400


def test_sp_initiated_logout(client, provider, idp):
    _log_in(client, idp, provider)
    response = client.post(path(provider, "logout"))
    assert response.status_code == 302 and response["Location"].startswith(idp.slo_url)
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["Signature"]
    xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(query["SAMLRequest"][0]).decode()
    assert "ann@acme.test" in xml and "_session1" in xml
    assert "_auth_user_id" not in client.session


# --------------------------------------------------------------------------------------------- metadata and keys


def test_sp_metadata_and_the_key_stored_encrypted(client, provider):
    response = client.get(path(provider, "metadata"))
    assert response.status_code == 200 and response["Content-Type"] == "application/samlmetadata+xml"
    xml = response.content.decode()
    u = urls(provider)
    assert f'entityID="{u["entity_id"]}"' in xml and f'Location="{u["acs"]}"' in xml and u["sls"] in xml
    assert 'use="signing"' in xml and 'use="encryption"' in xml
    assert "PRIVATE KEY" not in xml
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM accounts_identityprovider WHERE id = %s", [provider.pk])
        stored = cursor.fetchone()[0]
    assert "PRIVATE KEY" not in stored and stored.startswith("v1:")
    provider.refresh_from_db()
    assert "PRIVATE KEY" in provider.secrets["sp_private_key"]
    event = AuditEvent.objects.get(event_name="saml.sp_keys_created")
    assert "PRIVATE" not in str(event.metadata) + str(event.changes)
    # A second request keeps the same key (the IdP has our certificate by now).
    cert = provider.config["sp_certificate"]
    client.get(path(provider, "metadata"))
    provider.refresh_from_db()
    assert provider.config["sp_certificate"] == cert


def test_login_url_is_registered_for_discovery(provider):
    from accounts.sso import kinds

    assert kinds.login_url(provider) == "/accounts/saml/acme/okta/login/"


# --------------------------------------------------------------------------------------------- configuration


def test_validation_of_the_config(provider, idp):
    assert saml.validate(provider) == {}
    _, expired = keypair(days=-1, not_before_days=30)
    _, weak = keypair(bits=1024)
    provider.config = {
        "idp_sso_url": "http://idp.example.test/sso", "idp_certificates": [expired, weak, "garbage"],
        "metadata_url": "ftp://x",
    }  # fmt: skip
    errors = " ".join(saml.validate(provider)["config"])
    for expected in ("idp_entity_id is required", "idp_sso_url must be an https", "metadata_url must be",
                     "[0] expired", "[1] has a 1024-bit key", "[2] is not a PEM"):  # fmt: skip
        assert expected in errors, errors
    # Bare base64 bodies, as IdP consoles show them, are accepted.
    provider.config = idp.config(idp_certificates=["".join(idp.cert.strip().splitlines()[1:-1])])
    assert saml.validate(provider) == {}


def test_metadata_import(idp):
    fields = saml.parse_idp_metadata(idp.metadata())
    assert fields["idp_entity_id"] == idp.entity_id and fields["idp_sso_url"] == idp.sso_url
    assert fields["idp_slo_url"] == idp.slo_url
    assert saml.load_certificate(fields["idp_certificates"][0]) == saml.load_certificate(idp.cert)
    with pytest.raises(saml.MetadataError):
        saml.parse_idp_metadata('<!DOCTYPE x [<!ENTITY e "e">]>' + idp.metadata())
    with pytest.raises(saml.MetadataError):
        saml.parse_idp_metadata("not xml")


@pytest.mark.parametrize(
    "addresses", [["127.0.0.1"], ["10.1.2.3"], ["::ffff:127.0.0.1"], ["93.184.216.34", "192.168.0.1"], ["100.64.0.1"]]
)
def test_metadata_fetch_refuses_non_public_addresses(monkeypatch, addresses):
    import socket

    def fake_getaddrinfo(host, port, *args, **kwargs):
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("must not connect"))
    with pytest.raises(saml.MetadataError, match="public"):
        saml.fetch_idp_metadata("https://idp.example.test/metadata")


def test_metadata_fetch_refuses_plain_http_and_ip_literals():
    for url in ("http://idp.example.test/metadata", "https://127.0.0.1/metadata", "https://[::1]/m"):
        with pytest.raises(saml.MetadataError):
            saml.fetch_idp_metadata(url)


# --------------------------------------------------------------------------------------------- scheduled tasks


def test_metadata_refresh_follows_a_certificate_rollover(monkeypatch, provider, idp):
    from accounts.sso import saml_tasks

    rolled = TestIdP(idp.entity_id)
    provider.config["metadata_url"] = "https://idp.example.test/metadata"
    provider.save()
    monkeypatch.setattr(saml, "_https_get", lambda url: rolled.metadata().encode())
    assert saml_tasks.saml_metadata_refresh() == {"refreshed": 1, "unchanged": 0, "failed": 0}
    provider.refresh_from_db()
    assert [saml.load_certificate(c) for c in provider.config["idp_certificates"]] == [
        saml.load_certificate(rolled.cert)
    ]
    assert AuditEvent.objects.filter(event_name="saml.metadata_imported").count() == 1
    assert saml_tasks.saml_metadata_refresh()["unchanged"] == 1

    def broken(url):
        raise saml.MetadataError("the metadata URL answered 500")

    monkeypatch.setattr(saml, "_https_get", broken)
    assert saml_tasks.saml_metadata_refresh()["failed"] == 1
    provider.refresh_from_db()
    assert provider.config["idp_certificates"]  # a failed refresh keeps what works
    assert AuditEvent.objects.filter(event_name="saml.metadata_refresh_failed").exists()


def test_metadata_refresh_refuses_another_entity(monkeypatch, provider, idp):
    from accounts.sso import saml_tasks

    provider.config["metadata_url"] = "https://idp.example.test/metadata"
    provider.save()
    monkeypatch.setattr(saml, "_https_get", lambda url: TestIdP("https://evil.example/idp").metadata().encode())
    assert saml_tasks.saml_metadata_refresh()["failed"] == 1
    provider.refresh_from_db()
    assert provider.config["idp_certificates"] == [idp.cert]


def test_certificate_expiry_warning_once_per_certificate(provider, idp, settings):
    from accounts.sso import saml_tasks

    _, soon = keypair(days=10)
    provider.config["idp_certificates"] = [idp.cert, soon]
    provider.save()
    assert saml_tasks.saml_certificates_warn_expiring() == 1
    assert saml_tasks.saml_certificates_warn_expiring() == 0
    event = AuditEvent.objects.get(event_name="saml.certificate_expiring")
    assert event.metadata["days_left"] in (9, 10)


def test_sign_helper_is_what_the_library_verifies(idp):
    """Guards the harness itself: an assertion it signs verifies with python3-saml's verifier."""
    xml = sign(idp.assertion(audience="a", recipient="r", name_id="n@x.test"), idp.key, idp.cert)
    assert OneLogin_Saml2_Utils.validate_sign(
        xml, idp.cert, xpath="/saml:Assertion/ds:Signature", raise_exceptions=True
    )
    assert "EncryptedAssertion" in encrypt_assertion(
        idp.response(acs="a", audience="a", name_id="n@x.test"), keypair()[1]
    )


# --------------------------------------------------------------------------------------------- the set-up page


def test_setup_page_shows_what_to_paste_and_imports_metadata(provider, acme, verified_client_for, client_for):
    page = path(provider, "login").replace("/login/", "/setup/")
    owner = verified_client_for(acme.owner)
    body = owner.get(page).content.decode()
    u = urls(provider)
    for value in (u["entity_id"], u["acs"], u["metadata"], u["sls"], "BEGIN CERTIFICATE"):
        assert value in body
    assert "PRIVATE KEY" not in body

    rolled = TestIdP("https://idp2.example.test/metadata")
    response = owner.post(page, {"metadata_xml": rolled.metadata()}, format="multipart")
    assert response.status_code == 302, response.content.decode()[-1500:]
    provider.refresh_from_db()
    assert provider.config["idp_entity_id"] == rolled.entity_id
    assert AuditEvent.objects.filter(event_name="sso.provider_updated", target_id=str(provider.pk)).exists()

    assert owner.post(page, {"metadata_xml": "<!DOCTYPE x []><x/>"}, format="multipart").status_code == 400
    assert owner.post(page, {"metadata_url": "https://127.0.0.1/m"}, format="multipart").status_code == 400
    assert owner.post(page, {}, format="multipart").status_code == 400

    member = Client()
    member.force_login(acme.member, backend="accounts.backends.EmailBackend")
    assert member.get(page).status_code == 404  # no sso.manage: not even a hint that the provider exists


# ----------------------------------------------------------------------------------------- rate limiting


def test_junk_posts_are_throttled_per_address_after_the_limit(client, provider, idp, settings):
    """Anyone can post to the ACS: past SSO_FAILURE_LIMIT refusals from one address the ACS answers 429 without
    parsing, and the audit trail gets one sso.login_throttled event instead of a row per junk post."""
    settings.SSO_FAILURE_LIMIT = 3
    for _ in range(3):
        assert client.post(path(provider, "acs"), {"SAMLResponse": "junk"}).status_code == 400
    for _ in range(5):
        response = client.post(path(provider, "acs"), {"SAMLResponse": "junk"})
        assert response.status_code == 429
        assert 1 <= int(response["Retry-After"]) <= settings.SSO_FAILURE_WINDOW_SECONDS
        assert b"Too many failed sign-ins" in response.content
    assert len(failures(provider)) == 3
    throttled = AuditEvent.objects.filter(event_name="sso.login_throttled", target_id=str(provider.pk))
    assert throttled.count() == 1 and throttled.get().metadata["limit"] == 3

    # Even a valid response waits out the window from that address...
    assert post(client, provider, good(idp, provider)).status_code == 429
    # ...while another address signs in normally.
    other = Client(REMOTE_ADDR="203.0.113.9")
    provider.allow_idp_initiated = True
    provider.save()
    assert post(other, provider, good(idp, provider)).status_code == 302


def test_the_limit_window_ends(client, provider, settings):
    settings.SSO_FAILURE_LIMIT = 1
    settings.SSO_FAILURE_WINDOW_SECONDS = 60
    with time_machine.travel("2026-11-25 10:00:05+00:00", tick=False):
        assert client.post(path(provider, "acs"), {"SAMLResponse": "junk"}).status_code == 400
        assert client.post(path(provider, "acs"), {"SAMLResponse": "junk"}).status_code == 429
    with time_machine.travel("2026-11-25 10:01:01+00:00", tick=False):
        assert client.post(path(provider, "acs"), {"SAMLResponse": "junk"}).status_code == 400


# ------------------------------------------------------------------------------------ metadata import API


def _import_url(provider):
    return f"/api/v1/orgs/{provider.organization.slug}/identity-providers/{provider.pk}/saml-metadata"


def test_metadata_import_through_the_api(acme, idp, verified_client_for):
    provider = IdentityProvider.objects.create(
        organization=acme.org, kind="saml", slug="adfs", name="ADFS", email_domains=["acme.test"], config={}
    )
    response = verified_client_for(acme.owner).post(
        _import_url(provider), {"metadata_xml": idp.metadata()}, format="json"
    )
    assert response.status_code == 200, response.content
    provider.refresh_from_db()
    assert provider.config["idp_entity_id"] == idp.entity_id
    assert provider.config["idp_certificates"] and response.json()["config"]["idp_sso_url"]
    assert AuditEvent.objects.filter(event_name="sso.provider_updated", target_id=str(provider.pk)).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "non_field_errors"),
        ({"metadata_xml": "<x/>", "metadata_url": "https://idp.example.test/m"}, "non_field_errors"),
        ({"metadata_xml": "not xml"}, "metadata_xml"),
        ({"metadata_xml": '<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>'}, "metadata_xml"),
        ({"metadata_url": "http://idp.example.test/metadata"}, "metadata_url"),
        ({"metadata_url": "https://127.0.0.1/metadata"}, "metadata_url"),
    ],
)
def test_bad_metadata_is_a_400_naming_the_field(provider, acme, verified_client_for, payload, field):
    before = dict(provider.config)
    response = verified_client_for(acme.owner).post(_import_url(provider), payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    provider.refresh_from_db()
    assert provider.config == before


def test_metadata_import_needs_step_up_saml_and_the_same_org(
    provider, acme, globex, idp, client_for, verified_client_for
):
    body = {"metadata_xml": idp.metadata()}
    assert client_for(acme.owner).post(_import_url(provider), body, format="json").status_code == 403
    assert verified_client_for(acme.member).post(_import_url(provider), body, format="json").status_code == 403
    assert verified_client_for(globex.owner).post(_import_url(provider), body, format="json").status_code == 404
    other_org_url = f"/api/v1/orgs/globex/identity-providers/{provider.pk}/saml-metadata"
    assert verified_client_for(globex.owner).post(other_org_url, body, format="json").status_code == 404
    oidc = IdentityProvider.objects.create(organization=acme.org, kind="oidc", slug="g", name="G", config={})
    response = verified_client_for(acme.owner).post(_import_url(oidc), body, format="json")
    assert response.status_code == 400 and "only SAML" in str(response.json())


# ------------------------------------------------------------------------------ hand-off to a mobile app


def test_saml_sign_in_handed_to_an_app(client, provider, idp):
    """The app's request survives the ACS, which the IdP posts cross-site without our Lax session cookie."""
    from tests.accounts.test_sso_app_handoff import APP, exchange, pkce, start

    verifier, challenge = pkce()
    assert start(client, challenge).status_code == 302
    request_id = start_login(client, provider, next_url="/accounts/sso/app/finish/")
    client.cookies.pop("sessionid", None)  # what a browser sends with a cross-site POST
    response = post(client, provider, good(idp, provider, request_id))
    assert response.status_code == 302 and response["Location"] == "/accounts/sso/app/finish/"
    assert client.get("/accounts/sso/app/finish/").status_code == 200
    landing = client.post("/accounts/sso/app/finish/")
    assert landing["Location"].startswith(APP + "?code=")
    code = parse_qs(urlsplit(landing["Location"]).query)["code"][0]
    session = exchange(code, verifier)
    assert session.status_code == 200 and session.json()["email"] == "ann@acme.test"
