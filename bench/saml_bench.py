"""ACS processing of a 7 KB signed SAML response (target: <= 20 ms at the median for the processing).

Two figures, in the same run, on a throw-away test database (created and dropped here, migrations included):
  - validation: `consume_response` alone — base64, parse, our checks, python3-saml's validation and the
    RSA-SHA256 signature check, the replay-cache write;
  - full ACS: `POST /accounts/saml/<org>/<provider>/acs/` through Django's test client — the above plus the
    provider lookup, sso_login (user, membership, group mappings, audit event), Django's login and the session.
Every response is fresh (its own assertion ID: the replay cache would refuse a second use) and signed beforehand
by the test IdP (tests/accounts/saml_idp.py) with a 2048-bit RSA key, so signing never counts. Each response's
XML is padded with realistic attributes to 7 KB.

    .venv/bin/python -m bench.saml_bench            (BENCH_QUICK=1 for a short run)
"""

import os
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatapp.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, RequestFactory  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"
ROUNDS = 100 if QUICK else 500
WARMUP = 20
TARGET_MS = 20.0
SIZE = 7 * 1024
BASE = "https://chat.example.test"


def ms(samples, q):
    return statistics.median(samples) * 1000 if q == 50 else statistics.quantiles(samples, n=100)[q - 1] * 1000


def main():
    setup_test_environment()
    settings.SAML_SP_BASE_URL = BASE
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        return run()
    finally:
        connection.creation.destroy_test_db(test_db, verbosity=0)


def run():
    from accounts.models import IdentityProvider, Membership, Organization
    from accounts.sso import saml, saml_views
    from tests.accounts.saml_idp import TestIdP

    org = Organization.objects.create(slug="acme", name="Acme")
    idp = TestIdP()
    provider = IdentityProvider.objects.create(
        organization=org, kind="saml", slug="okta", name="Okta", email_domains=["acme.test"], jit_provisioning=True,
        default_role=Membership.Role.MEMBER, allow_idp_initiated=True, config=idp.config(),
        attribute_map={"full_name": "displayName", "groups": "groups"},
    )  # fmt: skip
    saml.ensure_sp_credentials(provider)
    urls = saml.sp_urls(provider, BASE)

    def response(padding):
        return idp.response(
            acs=urls["acs"], audience=urls["entity_id"], name_id="ann@acme.test", padding=padding,
            attributes={"displayName": ["Ann Example"], "groups": ["engineering", "everyone"]},
        )  # fmt: skip

    padding = 0
    while len(response(padding)) < SIZE:
        padding += 1
    size = len(response(padding))
    total = WARMUP + ROUNDS
    print(f"signing {2 * total} responses of {size} bytes ...", file=sys.stderr)
    for_validation = [TestIdP.encode(response(padding)) for _ in range(total)]
    for_acs = [TestIdP.encode(response(padding)) for _ in range(total)]

    request = RequestFactory().post(urls["acs"])
    validation = []
    for i, encoded in enumerate(for_validation):
        start = time.perf_counter()
        saml_views.consume_response(provider, base=BASE, encoded=encoded, request=request, outstanding_ids=set())
        if i >= WARMUP:
            validation.append(time.perf_counter() - start)

    client = Client()
    acs_path = urls["acs"].removeprefix(BASE)
    full = []
    for i, encoded in enumerate(for_acs):
        start = time.perf_counter()
        answer = client.post(acs_path, {"SAMLResponse": encoded, "RelayState": "/accounts/security/"})
        elapsed = time.perf_counter() - start
        assert answer.status_code == 302, answer.content[:500]
        if i >= WARMUP:
            full.append(elapsed)

    print(f"SAML ACS, {size}-byte signed response, {ROUNDS} rounds ({connection.vendor})")
    print(f"  validation (consume_response): median {ms(validation, 50):.2f} ms, p95 {ms(validation, 95):.2f} ms")
    print(f"  full ACS POST (login, audit):  median {ms(full, 50):.2f} ms, p95 {ms(full, 95):.2f} ms")
    # The target is the ACS's processing of the response; the login that follows is the core's
    # sso_login (provisioning, group mappings, audit, Django's login and its signal handlers), shown apart.
    ok = ms(validation, 50) <= TARGET_MS
    print(f"  target: response processing median <= {TARGET_MS:.0f} ms: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
