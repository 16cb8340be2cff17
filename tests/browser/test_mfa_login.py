"""End to end in a real browser: a member of an organization that requires MFA logs in, is made to enrol
TOTP, confirms with a pyotp code, logs out, and logs back in with password and code."""

import re
from datetime import timedelta

import pyotp
import time_machine
from django.utils import timezone

from accounts.models import Organization
from audit.models import AuditEvent
from tests.factories import PASSWORD


def log_in(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")


def test_required_mfa_enrolment_then_login_with_code(live_server, allow_audit_flush, acme, browser_page):
    page, base = browser_page, live_server.url
    acme.org.mfa_policy = Organization.MfaPolicy.EVERYONE
    acme.org.mfa_grace_days = 0
    acme.org.save()
    email = acme.member.email

    log_in(page, base, email)
    page.wait_for_url(re.compile(r"/accounts/mfa/enrol/$"))
    assert "requires two-step verification" in page.content()
    assert page.locator("svg").count() >= 1  # the QR code, rendered on the server
    totp = pyotp.TOTP(page.inner_text("#totp-secret"))
    page.fill("#id_code", "000000")
    page.click("#confirm")
    assert "does not match" in page.inner_text("[role=alert]")
    with time_machine.travel(timezone.now() + timedelta(seconds=3)):  # past the 1 s wait after a failure
        page.fill("#id_code", totp.now())
        page.click("#confirm")
        page.wait_for_url(re.compile(r"/accounts/mfa/recovery-codes/$"))
        assert page.locator("#recovery-codes li").count() == 10
        page.click("#done")
        page.wait_for_url(re.compile(r"/accounts/security/$"))
        assert email in page.inner_text("main")

        page.click("#logout")
        page.wait_for_url(re.compile(r"/accounts/login/$"))

    # A later time step: the enrolment's code was spent and must not be accepted again.
    with time_machine.travel(timezone.now() + timedelta(seconds=65)):
        log_in(page, base, email)
        page.wait_for_url(re.compile(r"/accounts/mfa/authenticate/$"))
        page.fill("#id_code", totp.now())
        page.click("#verify")
        page.wait_for_url(re.compile(r"/accounts/security/$"))
        assert email in page.inner_text("main")

    events = AuditEvent.objects.filter(actor_id=str(acme.member.pk)).order_by("sequence")
    names = list(events.values_list("event_name", flat=True))
    assert names.count("auth.login") == 2
    assert "mfa.enrolled" in names and "mfa.verified" in names
