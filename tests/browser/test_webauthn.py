"""The security-key JavaScript end to end: Chromium's virtual authenticator (DevTools protocol) stands in for a
USB key, so navigator.credentials.create/get, our encoding of their results and the server's verification all
run for real. A member adds a key on the security page, logs out, and logs back in with password and key."""

import re

from accounts.models import WebAuthnDevice
from audit.models import AuditEvent
from tests.browser.test_mfa_login import log_in


def virtual_key(page):
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    options = {"protocol": "ctap2", "transport": "usb", "hasResidentKey": True, "hasUserVerification": True,
               "isUserVerified": True, "automaticPresenceSimulation": True}  # fmt: skip
    authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})["authenticatorId"]
    return cdp, authenticator


def test_add_a_security_key_then_log_in_with_it(live_server, allow_audit_flush, acme, browser_page, settings):
    page, base = browser_page, live_server.url
    settings.WEBAUTHN_RP_ID = "localhost"
    settings.WEBAUTHN_ORIGINS = [base]
    assert base.startswith("http://localhost:")  # a secure context, and the RP ID's own host
    email = acme.member.email
    cdp, authenticator = virtual_key(page)

    log_in(page, base, email)
    page.goto(f"{base}/accounts/security/")
    page.fill("#webauthn-name", "Desk key")
    page.click("#add-security-key")
    page.wait_for_function("() => !document.querySelector('#add-security-key')?.disabled", timeout=15_000)
    page.wait_for_load_state()
    assert "Desk key" in page.inner_text("main"), page.inner_text("main")
    device = WebAuthnDevice.objects.get(user=acme.member)
    assert device.name == "Desk key"
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(stored) == 1 and stored[0]["rpId"] == "localhost"

    page.click("#logout")
    page.wait_for_url(re.compile(r"/accounts/login/$"))
    log_in(page, base, email)
    page.wait_for_url(re.compile(r"/accounts/mfa/authenticate/$"))
    page.click("#use-security-key")
    page.wait_for_url(re.compile(r"/accounts/security/$"))
    assert email in page.inner_text("main")

    events = AuditEvent.objects.filter(actor_id=str(acme.member.pk)).order_by("sequence")
    names = list(events.values_list("event_name", flat=True))
    assert names.count("auth.login") == 2 and "mfa.verified" in names
    device.refresh_from_db()
    assert device.sign_count >= 0 and device.last_used_at is not None
