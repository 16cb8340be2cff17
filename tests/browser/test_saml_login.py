"""End to end in headless Chromium: a SAML login through the email-first page.

The IdP is the test IdP (tests/accounts/saml_idp.py) behind a small HTTP server on loopback: it reads our signed
AuthnRequest from the redirect, shows a page with a "Sign in" button, and posts a signed response to our ACS
from the browser (HTTP-POST binding), as a real IdP does. It listens on `localhost` like the live server, so
the browser treats both as one site over plain http (our request cookie is SameSite=Lax without https)."""

import html
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from accounts.models import IdentityProvider, User
from audit.models import AuditEvent
from tests.accounts.saml_idp import TestIdP


@pytest.fixture
def idp_server():
    idp = TestIdP("http://localhost/idp")
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            query = parse_qs(urlsplit(self.path).query)
            request = OneLogin_Saml2_Utils.decode_base64_and_inflate(query["SAMLRequest"][0]).decode()
            request_id = re.search(r'ID="([^"]+)"', request).group(1)
            acs = re.search(r'AssertionConsumerServiceURL="([^"]+)"', request).group(1)
            audience = re.search(r"<saml:Issuer>([^<]+)</saml:Issuer>", request).group(1)
            seen.append(request_id)
            xml = idp.response(
                acs=acs, audience=audience, name_id="ann@acme.test", in_response_to=request_id,
                attributes={"displayName": ["Ann Example"]},
            )  # fmt: skip
            relay = query.get("RelayState", [""])[0]
            body = (
                "<!doctype html><title>Test IdP</title><h1>Test IdP</h1>"
                f'<form method="post" action="{html.escape(acs)}">'
                f'<input type="hidden" name="SAMLResponse" value="{TestIdP.encode(xml)}">'
                f'<input type="hidden" name="RelayState" value="{html.escape(relay)}">'
                '<button id="approve" type="submit">Sign in as ann@acme.test</button></form>'
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    idp.sso_url = f"http://localhost:{server.server_address[1]}/sso"
    idp.slo_url = ""
    idp.seen = seen
    yield idp
    server.shutdown()
    server.server_close()


def test_saml_login_through_the_email_first_page(live_server, allow_audit_flush, acme, browser_page, idp_server,
                                                  settings):  # fmt: skip
    settings.SAML_SP_BASE_URL = live_server.url
    IdentityProvider.objects.create(
        organization=acme.org, kind="saml", slug="okta", name="Okta", email_domains=["acme.test"],
        jit_provisioning=True, attribute_map={"full_name": "displayName"}, config=idp_server.config(idp_slo_url=""),
    )  # fmt: skip
    page, base = browser_page, live_server.url

    page.goto(f"{base}/accounts/sso/")
    page.fill("input[name=email]", "ann@acme.test")
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"^http://localhost:\d+/sso\?SAMLRequest="))
    assert idp_server.seen  # our AuthnRequest reached the IdP
    page.click("#approve")
    page.wait_for_url(re.compile(r"/accounts/security/$"))
    assert "ann@acme.test" in page.inner_text("main")

    user = User.objects.get(email="ann@acme.test")
    assert user.full_name == "Ann Example"
    assert AuditEvent.objects.filter(event_name="sso.login", actor_id=str(user.pk)).exists()
    assert not AuditEvent.objects.filter(event_name="sso.login_failed").exists()

    # Going back and posting the same response again is a replay: refused, audited, no 500.
    page.go_back()
    page.wait_for_url(re.compile(r"^http://localhost:\d+/sso\?"))
    page.click("#approve")
    page.wait_for_selector("#saml-error")
    failed = AuditEvent.objects.get(event_name="sso.login_failed")
    assert failed.metadata["reason"] in ("replay", "wrong_in_response_to")
