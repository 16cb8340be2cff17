"""Security keys through the JSON API, driven by a software authenticator written here from the WebAuthn spec
(EC P-256, "none" attestation, CBOR by cbor2): nothing of ours or of py_webauthn is mocked."""

import base64
import hashlib
import json
import os
import struct
from datetime import timedelta

import cbor2
import pytest
import time_machine
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import RecoveryCode, WebAuthnDevice
from audit.models import AuditEvent
from tests.factories import PASSWORD

LOGIN = "/api/v1/auth/session"
ORIGIN = "http://localhost:8000"
RP_ID = "localhost"


@pytest.fixture(autouse=True)
def _relying_party(settings):
    settings.WEBAUTHN_RP_ID = RP_ID
    settings.WEBAUTHN_ORIGINS = [ORIGIN]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftKey:
    """A minimal roaming authenticator: one credential, a signature counter, user presence and verification."""

    def __init__(self, *, counter_step: int = 1):
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.sign_count = 0
        self.counter_step = counter_step

    def _cose_key(self) -> bytes:
        numbers = self.private_key.public_key().public_numbers()
        # COSE_Key: kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y.
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def _auth_data(self, rp_id: str, *, attested: bool) -> bytes:
        self.sign_count += self.counter_step
        flags = 0x01 | 0x04 | (0x40 if attested else 0)  # UP, UV, AT
        data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", self.sign_count)
        if attested:
            aaguid = bytes(16)
            data += aaguid + struct.pack(">H", len(self.credential_id)) + self.credential_id + self._cose_key()
        return data

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}).encode()

    def create(self, options: dict, *, origin: str = ORIGIN, rp_id: str | None = None) -> dict:
        """navigator.credentials.create(), as the JSON a browser client sends back."""
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        auth_data = self._auth_data(rp_id or options["rp"]["id"], attested=True)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(self.credential_id), "rawId": b64url(self.credential_id), "type": "public-key",
            "response": {"clientDataJSON": b64url(client_data), "attestationObject": b64url(attestation),
                         "transports": ["usb"]},
        }  # fmt: skip

    def get(self, options: dict, *, origin: str = ORIGIN, rp_id: str | None = None) -> dict:
        """navigator.credentials.get(): signs authenticatorData || SHA-256(clientDataJSON)."""
        allowed = [unb64url(c["id"]) for c in options.get("allowCredentials", [])]
        assert self.credential_id in allowed, "the server did not offer this key"
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        auth_data = self._auth_data(rp_id or options["rpId"], attested=False)
        signature = self.private_key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(self.credential_id), "rawId": b64url(self.credential_id), "type": "public-key",
            "response": {"clientDataJSON": b64url(client_data), "authenticatorData": b64url(auth_data),
                         "signature": b64url(signature), "userHandle": None},
        }  # fmt: skip


def password_login(user):
    client = APIClient()
    response = client.post(LOGIN, {"email": user.email, "password": PASSWORD}, format="json")
    return client, response


def register(user, key: SoftKey, name="YubiKey"):
    """Log in (password only: no factor yet) and add the key; returns the client and the finish response."""
    client, response = password_login(user)
    assert response.status_code == 200, response.content
    options = client.post("/api/v1/me/mfa/webauthn/begin").json()
    finish = client.post(
        "/api/v1/me/mfa/webauthn/finish", {"credential": key.create(options), "name": name}, format="json"
    )
    return client, finish


def pending_with_options(user):
    client, response = password_login(user)
    assert response.status_code == 401 and "webauthn" in response.json()["methods"], response.content
    options = client.post(f"{LOGIN}/webauthn/begin")
    assert options.status_code == 200, options.content
    return client, options.json()


def finish_login(client, credential):
    return client.post(f"{LOGIN}/webauthn/finish", {"credential": credential}, format="json")


def test_register_then_log_in_with_the_key(acme):
    key = SoftKey()
    client, finish = register(acme.member, key)
    assert finish.status_code == 200, finish.content
    body = finish.json()
    assert body["device"]["type"] == "webauthn" and body["device"]["name"] == "YubiKey"
    assert len(body["recovery_codes"]) == 10  # the first factor brings recovery codes
    device = WebAuthnDevice.objects.get(user=acme.member)
    assert bytes(device.credential_id) == key.credential_id and device.transports == ["usb"]
    assert device.sign_count == 1
    assert AuditEvent.objects.filter(event_name="mfa.enrolled", actor_id=str(acme.member.pk),
                                     target_type="mfa.webauthn", target_id=str(device.pk)).exists()  # fmt: skip

    client, options = pending_with_options(acme.member)
    assert options["rpId"] == RP_ID and options["userVerification"] == "preferred"
    assert [c["id"] for c in options["allowCredentials"]] == [b64url(key.credential_id)]
    assert client.get("/api/v1/me").status_code == 401  # still pending
    response = finish_login(client, key.get(options))
    assert response.status_code == 200, response.content
    assert client.get("/api/v1/me").json()["email"] == acme.member.email
    device.refresh_from_db()
    assert device.sign_count == 2 and device.last_used_at is not None
    assert AuditEvent.objects.filter(event_name="mfa.verified", target_id=str(device.pk)).count() == 1
    login_event = AuditEvent.objects.filter(actor_id=str(acme.member.pk)).latest("sequence")
    assert "webauthn" in json.dumps(login_event.metadata)


def test_registration_options_exclude_existing_keys_and_ask_for_a_passkey(acme):
    key = SoftKey()
    client, finish = register(acme.member, key)
    assert finish.status_code == 200
    options = client.post("/api/v1/me/mfa/webauthn/begin").json()
    assert options["attestation"] == "none"
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert [c["id"] for c in options["excludeCredentials"]] == [b64url(key.credential_id)]
    assert acme.member.email.encode() not in unb64url(options["user"]["id"])
    # A second key: no new recovery codes, the first set stays valid.
    second = client.post("/api/v1/me/mfa/webauthn/finish", {"credential": SoftKey().create(options)}, format="json")
    assert second.status_code == 200 and second.json()["recovery_codes"] == []
    assert second.json()["device"]["name"] == "Security key"
    assert RecoveryCode.objects.filter(device__user=acme.member).count() == 10
    # The same key again (a browser ignoring excludeCredentials): refused, not a 500.
    options = client.post("/api/v1/me/mfa/webauthn/begin").json()
    again = client.post("/api/v1/me/mfa/webauthn/finish", {"credential": key.create(options)}, format="json")
    assert again.status_code == 400 and "already registered" in again.content.decode()


def test_adding_a_key_needs_a_recent_verification(acme, settings):
    client, _ = register(acme.member, SoftKey())
    session = client.session
    session.pop("chatapp_verified_at")
    session.save()
    response = client.post("/api/v1/me/mfa/webauthn/begin")
    assert response.status_code == 403 and response.json()["type"].endswith("step-up-required")


@pytest.mark.parametrize("ceremony", ["create", "get"])
def test_wrong_origin_is_refused(acme, ceremony):
    key = SoftKey()
    if ceremony == "create":
        client, response = password_login(acme.member)
        options = client.post("/api/v1/me/mfa/webauthn/begin").json()
        credential = key.create(options, origin="https://evil.example")
        response = client.post("/api/v1/me/mfa/webauthn/finish", {"credential": credential}, format="json")
        assert response.status_code == 400 and "origin" in response.content.decode().lower()
        assert not WebAuthnDevice.objects.filter(user=acme.member).exists()
    else:
        assert register(acme.member, key)[1].status_code == 200
        client, options = pending_with_options(acme.member)
        response = finish_login(client, key.get(options, origin="https://evil.example"))
        assert response.status_code == 400 and "origin" in response.content.decode().lower()
        assert client.get("/api/v1/me").status_code == 401
        assert AuditEvent.objects.filter(event_name="mfa.failed", actor_id=str(acme.member.pk)).count() == 1


@pytest.mark.parametrize("ceremony", ["create", "get"])
def test_wrong_rp_id_is_refused(acme, ceremony):
    key = SoftKey()
    if ceremony == "create":
        client, response = password_login(acme.member)
        options = client.post("/api/v1/me/mfa/webauthn/begin").json()
        credential = key.create(options, rp_id="evil.example")
        response = client.post("/api/v1/me/mfa/webauthn/finish", {"credential": credential}, format="json")
        assert response.status_code == 400 and "rp id" in response.content.decode().lower()
        assert not WebAuthnDevice.objects.filter(user=acme.member).exists()
    else:
        assert register(acme.member, key)[1].status_code == 200
        client, options = pending_with_options(acme.member)
        response = finish_login(client, key.get(options, rp_id="evil.example"))
        assert response.status_code == 400 and "rp id" in response.content.decode().lower()
        assert client.get("/api/v1/me").status_code == 401


def test_a_counter_that_does_not_grow_is_refused_as_a_cloned_key(acme):
    key = SoftKey()
    assert register(acme.member, key)[1].status_code == 200
    client, options = pending_with_options(acme.member)
    assert finish_login(client, key.get(options)).status_code == 200
    device = WebAuthnDevice.objects.get(user=acme.member)
    assert device.sign_count == 2
    # A copy of the key still at counter 1 signs a perfectly valid fresh assertion: refused.
    key.sign_count = 0
    client, options = pending_with_options(acme.member)
    response = finish_login(client, key.get(options))
    assert response.status_code == 400 and "sign count" in response.content.decode().lower()
    assert client.get("/api/v1/me").status_code == 401
    device.refresh_from_db()
    assert device.sign_count == 2
    # Equal is not greater either.
    key.sign_count = 1
    client, options = pending_with_options(acme.member)
    assert finish_login(client, key.get(options)).status_code == 400
    failed = AuditEvent.objects.filter(event_name="mfa.failed", actor_id=str(acme.member.pk), outcome="failure")
    assert failed.count() == 2 and failed.first().target_id == str(device.pk)


def test_keys_without_a_counter_keep_working(acme):
    # Many passkeys always report 0: with nothing to compare, the counter check does not apply.
    key = SoftKey(counter_step=0)
    assert register(acme.member, key)[1].status_code == 200
    for _ in range(2):
        client, options = pending_with_options(acme.member)
        assert finish_login(client, key.get(options)).status_code == 200


def test_a_challenge_works_once(acme):
    key = SoftKey()
    assert register(acme.member, key)[1].status_code == 200
    client, options = pending_with_options(acme.member)
    assertion = key.get(options)
    assert finish_login(client, assertion).status_code == 200
    # The captured assertion replayed on a fresh pending login, without a new begin: no challenge waits.
    other, response = password_login(acme.member)
    assert response.status_code == 401
    replay = finish_login(other, assertion)
    assert replay.status_code == 400 and "challenge" in replay.content.decode()
    # ... and with a new begin the old challenge no longer matches.
    other.post(f"{LOGIN}/webauthn/begin")
    assert finish_login(other, assertion).status_code == 400
    assert other.get("/api/v1/me").status_code == 401


def test_a_failed_finish_spends_the_challenge_too(acme):
    key = SoftKey()
    assert register(acme.member, key)[1].status_code == 200
    client, options = pending_with_options(acme.member)
    assert finish_login(client, key.get(options, origin="https://evil.example")).status_code == 400
    assert finish_login(client, key.get(options)).status_code == 400  # right this time, but the challenge is gone


def test_challenges_expire_after_five_minutes(acme):
    from django.utils import timezone

    key = SoftKey()
    assert register(acme.member, key)[1].status_code == 200
    client, options = pending_with_options(acme.member)
    session = client.session
    session["chatapp_webauthn_challenge"]["at"] = timezone.now().timestamp() - 301
    session.save()
    response = finish_login(client, key.get(options))
    assert response.status_code == 400 and "expired" in response.content.decode()


def test_another_users_key_is_refused(acme, globex):
    mine, theirs = SoftKey(), SoftKey()
    assert register(acme.member, mine)[1].status_code == 200
    assert register(globex.member, theirs)[1].status_code == 200
    client, options = pending_with_options(acme.member)
    # globex's member answers acme's challenge with their own (genuine, registered) key.
    options["allowCredentials"].append({"id": b64url(theirs.credential_id), "type": "public-key"})
    response = finish_login(client, theirs.get(options))
    assert response.status_code == 400 and "not registered to your account" in response.content.decode()
    assert client.get("/api/v1/me").status_code == 401
    assert AuditEvent.objects.filter(event_name="mfa.failed", actor_id=str(acme.member.pk)).count() == 1
    assert WebAuthnDevice.objects.get(user=globex.member).sign_count == 1  # untouched


def test_keys_are_listed_and_removed_per_user_only(acme, globex):
    acme_client, _ = register(acme.member, SoftKey(), name="Acme key")
    register(globex.member, SoftKey(), name="Globex key")
    globex_device = WebAuthnDevice.objects.get(user=globex.member)
    devices = acme_client.get("/api/v1/me/mfa").json()["devices"]
    assert [(d["type"], d["name"]) for d in devices] == [("webauthn", "Acme key")]
    # Another user's key is indistinguishable from a missing one.
    assert acme_client.delete(f"/api/v1/me/mfa/devices/webauthn/{globex_device.pk}").status_code == 404
    assert WebAuthnDevice.objects.filter(pk=globex_device.pk).exists()
    own = WebAuthnDevice.objects.get(user=acme.member)
    assert acme_client.delete(f"/api/v1/me/mfa/devices/webauthn/{own.pk}").status_code == 204
    assert AuditEvent.objects.filter(event_name="mfa.removed", target_id=str(own.pk)).exists()
    # Login options of one user never offer the other's keys.
    register(acme.member, SoftKey())  # acme has no factor now, so a password login again
    _, options = pending_with_options(acme.member)
    assert b64url(bytes(globex_device.credential_id)) not in [c["id"] for c in options["allowCredentials"]]


def test_a_registration_challenge_cannot_finish_a_login(acme):
    key = SoftKey()
    client, finish = register(acme.member, key)
    assert finish.status_code == 200
    options = client.post("/api/v1/me/mfa/webauthn/begin").json()  # a registration challenge
    response = client.post("/api/v1/auth/reverify", {"credential": key.get({**options, "rpId": RP_ID,
                           "allowCredentials": [{"id": b64url(key.credential_id)}]})}, format="json")  # fmt: skip
    assert response.status_code == 400 and "challenge" in response.content.decode()


def test_reverify_with_a_security_key(acme):
    key = SoftKey()
    client, _ = register(acme.member, key)
    session = client.session
    session.pop("chatapp_verified_at")
    session.save()
    assert client.post("/api/v1/me/mfa/recovery-codes").status_code == 403
    options = client.post("/api/v1/auth/reverify/webauthn").json()
    assert client.post("/api/v1/auth/reverify", {"credential": key.get(options)}, format="json").status_code == 204
    assert client.post("/api/v1/me/mfa/recovery-codes").status_code == 200


BAD_CREDENTIALS = [
    "not json",
    [],
    {},
    {"id": 5, "rawId": 5, "response": {}},
    {"id": "!!", "rawId": "!!", "type": "public-key",
     "response": {"clientDataJSON": "!!", "authenticatorData": "!!", "signature": "!!"}},
    {"id": "AA", "rawId": "AA", "type": "public-key",
     "response": {"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA"}},
    {"id": "AA", "rawId": "AA", "type": "public-key",
     "response": {"clientDataJSON": ["x"], "attestationObject": {"a": 1}}},
]  # fmt: skip


@pytest.mark.parametrize("credential", BAD_CREDENTIALS)
def test_malformed_credentials_get_a_400(acme, credential):
    key = SoftKey()
    client, _ = register(acme.member, key)
    options = client.post("/api/v1/me/mfa/webauthn/begin")
    response = client.post("/api/v1/me/mfa/webauthn/finish", {"credential": credential}, format="json")
    assert response.status_code == 400, response.content
    login_client, _ = pending_with_options(acme.member)
    response = finish_login(login_client, credential)
    assert response.status_code == 400, response.content
    assert options.status_code == 200
    # With a known credential id but a garbage signature: still a 400.
    other, options = pending_with_options(acme.member)
    forged = key.get(options)
    forged["response"]["signature"] = b64url(b"\x30\x00")
    assert finish_login(other, forged).status_code == 400


def test_pending_login_endpoints_need_a_password_step_first(db):
    client = APIClient()
    assert client.post(f"{LOGIN}/webauthn/begin").status_code == 401
    assert finish_login(client, {}).status_code == 401


def test_browser_pages_register_a_key_and_log_in_with_it(acme, client):
    """The JSON endpoints behind accounts/static/accounts/webauthn.js, through allauth's login stage."""
    key = SoftKey()
    response = client.post("/accounts/login/", {"login": acme.member.email, "password": PASSWORD})
    assert response.status_code == 302
    page = client.get("/accounts/security/")
    assert b'id="add-security-key"' in page.content and b"accounts/webauthn.js" in page.content
    # Adding a factor needs a recent check (the login was one); once it is old, the password renews it for
    # someone who has no factor yet.
    with time_machine.travel(timezone.now() + timedelta(minutes=20)):
        refused = client.post("/accounts/mfa/webauthn/register/begin/")
        assert refused.status_code == 403 and refused.json()["redirect"].startswith("/accounts/reverify/")
        assert client.post("/accounts/reverify/", {"password": PASSWORD}).status_code == 302
    options = client.post("/accounts/mfa/webauthn/register/begin/").json()
    body = {"credential": key.create(options), "name": "Desk key"}
    finish = client.post("/accounts/mfa/webauthn/register/finish/", body, content_type="application/json")
    assert finish.status_code == 200, finish.content
    assert finish.json()["redirect"] == "/accounts/mfa/recovery-codes/"
    assert WebAuthnDevice.objects.get(user=acme.member).name == "Desk key"
    client.post("/accounts/logout/")

    response = client.post("/accounts/login/", {"login": acme.member.email, "password": PASSWORD})
    assert response.status_code == 302 and response.url == "/accounts/mfa/authenticate/"
    page = client.get(response.url)
    assert b'id="use-security-key"' in page.content
    assert client.get("/accounts/security/").status_code == 302  # not logged in yet
    bad = client.post("/accounts/mfa/webauthn/login/finish/", b"[1", content_type="application/json")
    assert bad.status_code == 400 and "error" in bad.json()
    options = client.post("/accounts/mfa/webauthn/login/begin/").json()
    finish = client.post("/accounts/mfa/webauthn/login/finish/", {"credential": key.get(options)},
                         content_type="application/json")  # fmt: skip
    assert finish.status_code == 200, finish.content
    assert client.get("/accounts/security/").status_code == 200
    assert client.get(finish.json()["redirect"]).status_code in (200, 302)
    assert AuditEvent.objects.filter(event_name="mfa.verified", actor_id=str(acme.member.pk)).count() == 1


def test_browser_login_key_endpoints_need_a_pending_login(acme, client):
    assert client.post("/accounts/mfa/webauthn/login/begin/").status_code == 401
    assert client.get("/accounts/mfa/webauthn/login/begin/").status_code == 405
