"""Second factors through the JSON API: TOTP (checked with pyotp, an independent implementation), recovery
codes, the organization's MFA policy, step-up and admin resets."""

import binascii
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.models import Organization, RecoveryCode
from audit.models import AuditEvent
from tests.factories import PASSWORD

LOGIN = "/api/v1/auth/session"
T0 = datetime(2026, 11, 25, 12, 0, 5, tzinfo=UTC)


def login(user, code=None):
    client = APIClient()
    response = client.post(LOGIN, {"email": user.email, "password": PASSWORD}, format="json")
    if code is not None:
        assert response.status_code == 401, response.content
        response = client.post(f"{LOGIN}/mfa", {"code": code}, format="json")
    return client, response


def enrol(user):
    """Enrol an authenticator through the API as a logged-in user; returns (pyotp.TOTP, recovery codes)."""
    client, response = login(user)
    assert response.status_code == 200
    start = client.post("/api/v1/me/mfa/totp").json()
    totp = pyotp.TOTP(start["secret"])
    assert start["otpauth_uri"].startswith("otpauth://totp/") and "<svg" in start["qr_svg"]
    confirm = client.post(
        "/api/v1/me/mfa/totp/confirm", {"device_id": start["device_id"], "code": totp.now()}, format="json"
    )
    assert confirm.status_code == 200, confirm.content
    return totp, confirm.json()["recovery_codes"]


RFC6238_SHA1 = [(59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"),
                (1234567890, "89005924"), (2000000000, "69279037"), (20000000000, "65353130")]  # fmt: skip


@pytest.mark.parametrize(("unix", "code"), RFC6238_SHA1)
def test_rfc6238_test_vectors(acme, unix, code):
    device = TOTPDevice.objects.create(
        user=acme.member, key=binascii.hexlify(b"12345678901234567890").decode(), digits=8, confirmed=True
    )
    with time_machine.travel(unix, tick=False):
        assert device.verify_token(code)


def test_pyotp_code_completes_login_and_reuse_is_refused(acme):
    with time_machine.travel(T0, tick=False):
        totp, codes = enrol(acme.member)
        assert len(codes) == 10 and len(set(codes)) == 10
    with time_machine.travel(T0 + timedelta(seconds=60), tick=False):
        client, response = login(acme.member)
        assert response.status_code == 401
        body = response.json()
        assert body["type"] == "urn:chatapp:problem:mfa-required"
        assert set(body["methods"]) == {"totp", "recovery_code"}
        assert client.get("/api/v1/me").status_code == 401  # a pending login is not a login
        code = totp.now()
        assert client.post(f"{LOGIN}/mfa", {"code": code}, format="json").status_code == 200
        assert client.get("/api/v1/me").json()["email"] == acme.member.email
        # The same code again, in the same time step, from another client: refused.
        other, response = login(acme.member)
        assert other.post(f"{LOGIN}/mfa", {"code": code}, format="json").status_code == 400
        assert other.get("/api/v1/me").status_code == 401


def test_codes_one_step_away_are_accepted_two_are_not(acme):
    with time_machine.travel(T0, tick=False):
        totp, _ = enrol(acme.member)
    now = T0 + timedelta(minutes=5)
    with time_machine.travel(now, tick=False):
        _, previous = login(acme.member, code=totp.at(now - timedelta(seconds=30)))
        assert previous.status_code == 200
    now += timedelta(minutes=5)
    with time_machine.travel(now, tick=False):
        _, too_old = login(acme.member, code=totp.at(now - timedelta(seconds=60)))
        assert too_old.status_code == 400


def test_wrong_codes_are_throttled_with_growing_delays(acme):
    with time_machine.travel(T0, tick=False):
        totp, _ = enrol(acme.member)
        client, _ = login(acme.member)
        assert client.post(f"{LOGIN}/mfa", {"code": "000000"}, format="json").status_code == 400
        throttled = client.post(f"{LOGIN}/mfa", {"code": totp.now()}, format="json")
        assert throttled.status_code == 429 and int(throttled["Retry-After"]) >= 1
    with time_machine.travel(T0 + timedelta(seconds=2), tick=False):
        assert client.post(f"{LOGIN}/mfa", {"code": "111111"}, format="json").status_code == 400
        wait = client.post(f"{LOGIN}/mfa", {"code": "222222"}, format="json")
        assert wait.status_code == 429 and int(wait["Retry-After"]) >= 2
    with time_machine.travel(T0 + timedelta(seconds=40), tick=False):  # the next time step: T0's code was spent
        assert client.post(f"{LOGIN}/mfa", {"code": totp.now()}, format="json").status_code == 200
    failures = AuditEvent.objects.filter(event_name="mfa.failed", actor_id=str(acme.member.pk))
    assert failures.count() >= 2


def test_recovery_codes_are_stored_hashed_and_work_once(acme):
    with time_machine.travel(T0, tick=False):
        _, codes = enrol(acme.member)
    with connection.cursor() as cursor:
        cursor.execute("SELECT digest FROM accounts_recoverycode")
        stored = " ".join(row[0] for row in cursor.fetchall())
    for code in codes:
        assert code not in stored and code.replace("-", "") not in stored
    assert RecoveryCode.objects.count() == 10
    _, first = login(acme.member, code=codes[0].lower())  # case and dashes do not matter
    assert first.status_code == 200
    _, again = login(acme.member, code=codes[0])
    assert again.status_code == 400
    assert AuditEvent.objects.filter(event_name="mfa.recovery_code_used").count() == 1


def test_regenerating_recovery_codes_invalidates_the_old_set(acme):
    with time_machine.travel(T0, tick=False):
        _, old = enrol(acme.member)
    client, _ = login(acme.member, code=old[0])
    new = client.post("/api/v1/me/mfa/recovery-codes").json()["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    assert login(acme.member, code=old[1])[1].status_code == 400
    with time_machine.travel(timezone.now() + timedelta(seconds=5)):  # past the 1 s wait after that failure
        assert login(acme.member, code=new[1])[1].status_code == 200


def test_org_policy_forces_enrolment_after_the_grace_period(acme):
    acme.org.mfa_policy = Organization.MfaPolicy.EVERYONE
    acme.org.mfa_grace_days = 7
    acme.org.save()
    client, response = login(acme.member)
    assert response.status_code == 200  # within the grace period
    assert client.get("/api/v1/me/mfa").json()["enrol_by"] is not None
    with time_machine.travel(timezone.now() + timedelta(days=8), tick=False):
        client, response = login(acme.member)
        assert response.status_code == 401
        assert response.json()["type"] == "urn:chatapp:problem:mfa-enrolment-required"
        start = client.post(f"{LOGIN}/mfa/totp").json()
        confirm = client.post(
            f"{LOGIN}/mfa/totp/confirm",
            {"device_id": start["device_id"], "code": pyotp.TOTP(start["secret"]).now()},
            format="json",
        )
        assert confirm.status_code == 200
        assert len(confirm.json()["recovery_codes"]) == 10
        assert client.get("/api/v1/me").status_code == 200
    assert AuditEvent.objects.filter(event_name="mfa.enrolled", actor_id=str(acme.member.pk)).exists()


def test_admins_only_policy_spares_members(acme):
    acme.org.mfa_policy = Organization.MfaPolicy.ADMINS
    acme.org.mfa_grace_days = 0
    acme.org.save()
    assert login(acme.member)[1].status_code == 200
    assert login(acme.admin)[1].json()["type"] == "urn:chatapp:problem:mfa-enrolment-required"


def test_pending_login_endpoints_refuse_without_a_password_step(anon):
    assert anon.post(f"{LOGIN}/mfa", {"code": "123456"}, format="json").status_code == 401
    assert anon.post(f"{LOGIN}/mfa/totp").status_code == 401


def test_step_up_is_needed_for_sensitive_actions(acme):
    client, _ = login(acme.owner)
    url = "/api/v1/orgs/acme/security-policy"
    assert client.patch(url, {"step_up_minutes": 10}, format="json").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        refused = client.patch(url, {"mfa_policy": "everyone"}, format="json")
        assert refused.status_code == 403
        assert refused.json()["type"] == "urn:chatapp:problem:step-up-required"
        assert client.post("/api/v1/auth/reverify", {"password": "wrong"}, format="json").status_code == 400
        assert client.post("/api/v1/auth/reverify", {"password": PASSWORD}, format="json").status_code == 204
        assert client.patch(url, {"mfa_policy": "everyone"}, format="json").status_code == 200
    acme.org.refresh_from_db()
    assert acme.org.mfa_policy == "everyone"
    event = AuditEvent.objects.filter(event_name="org.security_policy_updated").latest("sequence")
    assert event.changes["mfa_policy"] == ["optional", "everyone"]


def test_security_policy_needs_org_manage_and_valid_values(acme):
    admin, _ = login(acme.admin)
    assert (
        admin.patch("/api/v1/orgs/acme/security-policy", {"mfa_policy": "everyone"}, format="json").status_code == 403
    )
    owner, _ = login(acme.owner)
    bad = owner.patch("/api/v1/orgs/acme/security-policy", {"mfa_grace_days": 500}, format="json")
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"mfa_grace_days"}
    unknown = owner.patch("/api/v1/orgs/acme/security-policy", {"mfa": "everyone"}, format="json")
    assert unknown.status_code == 400 and set(unknown.json()["errors"]) == {"mfa"}
    assert owner.get("/api/v1/orgs/globex/security-policy").status_code == 404


def test_admin_resets_a_members_mfa_but_not_an_owners(acme, globex):
    with time_machine.travel(T0, tick=False):
        enrol(acme.member)
        enrol(acme.owner)
    admin, _ = login(acme.admin)
    reset = admin.post(f"/api/v1/orgs/acme/members/{acme.member.pk}/mfa-reset")
    assert reset.status_code == 200 and reset.json()["devices_removed"] == 2
    assert not TOTPDevice.objects.filter(user=acme.member).exists()
    assert admin.post(f"/api/v1/orgs/acme/members/{acme.owner.pk}/mfa-reset").status_code == 403
    assert TOTPDevice.objects.filter(user=acme.owner).exists()
    assert admin.post(f"/api/v1/orgs/acme/members/{globex.member.pk}/mfa-reset").status_code == 404
    assert AuditEvent.objects.filter(event_name="mfa.reset", target_id=str(acme.member.pk)).exists()
    assert login(acme.member)[1].status_code == 200  # no factor left: password alone (policy is optional)
