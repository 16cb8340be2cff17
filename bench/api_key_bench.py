"""API key authentication against session authentication on the same endpoint, in the same run.

Both sides call GET /api/v1/orgs/acme/channels/ as the same user (owner@acme.example from seed_demo) through
Django's test client, in the same process and database, alternating one request of each so that drift (cache
warm-up, autovacuum, a busy neighbour) hits both alike. Only the credential differs: a session cookie, or
`Authorization: Bearer <key>` with the key's scope `channels.view`. Prints medians, p95 and the difference;
the target of the account-security issue is that a key adds at most 0.3 ms at the median.

    .venv/bin/python manage.py migrate && .venv/bin/python manage.py seed_demo   # once
    .venv/bin/python -m bench.api_key_bench          (bench/run runs it on its PostgreSQL database)
"""

import os
import statistics
import sys
import time

# One user sends every request: the production per-user rate limit would throttle the benchmark itself.
os.environ.setdefault("THROTTLE_USER", "100000000/s")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatapp.settings")

import django

django.setup()

from django.db import connection, reset_queries, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from accounts.models import ApiKey, Organization, User  # noqa: E402
from accounts.services import api_key_create  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"
ROUNDS = 500 if QUICK else 3000
WARMUP = 100
URL = "/api/v1/orgs/acme/channels/"
TARGET_MS = 0.3


def ms(samples, q):
    return statistics.median(samples) * 1000 if q == 50 else statistics.quantiles(samples, n=100)[q - 1] * 1000


def queries_per_request(client, **headers) -> int:
    from django.conf import settings

    debug, settings.DEBUG = settings.DEBUG, True
    try:
        reset_queries()
        client.get(URL, **headers)
        return len(connection.queries)
    finally:
        settings.DEBUG = debug


def main():
    setup_test_environment()  # lets the test client's "testserver" host through ALLOWED_HOSTS
    org = Organization.objects.get(slug="acme")
    owner = User.objects.get(email="owner@acme.example")
    with transaction.atomic():
        created = api_key_create(actor=owner, org=org, name="api_key_bench", scopes=["channels.view"])
    session = Client()
    session.force_login(owner)
    keyed = Client(HTTP_AUTHORIZATION=f"Bearer {created.secret}")
    for client in (session, keyed):
        response = client.get(URL)
        assert response.status_code == 200, (response.status_code, response.content[:300])

    by_session, by_key = [], []
    try:
        for i in range(WARMUP + ROUNDS):
            # Alternate which goes first, so neither always follows the other.
            order = ((session, by_session), (keyed, by_key)) if i % 2 else ((keyed, by_key), (session, by_session))
            for client, samples in order:
                start = time.perf_counter()
                response = client.get(URL)
                elapsed = time.perf_counter() - start
                if response.status_code != 200:
                    sys.exit(f"unexpected {response.status_code}: {response.content[:300]!r}")
                if i >= WARMUP:
                    samples.append(elapsed)
        session_queries, key_queries = queries_per_request(session), queries_per_request(keyed)
    finally:
        ApiKey.objects.filter(pk=created.key.pk).delete()

    added = ms(by_key, 50) - ms(by_session, 50)
    vendor = connection.vendor
    print(f"\nAPI key vs session authentication: GET {URL}, {ROUNDS} requests each, alternating ({vendor})")
    print(f"{'credential':<12} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
    print(f"{'session':<12} {ms(by_session, 50):>10.3f} {ms(by_session, 95):>8.3f} {session_queries:>8}")
    print(f"{'API key':<12} {ms(by_key, 50):>10.3f} {ms(by_key, 95):>8.3f} {key_queries:>8}")
    print(f"difference at the median: {added:+.3f} ms (key - session)")
    verdict = "PASS" if added <= TARGET_MS else "MISSED"
    print(f"{verdict}: API key auth adds <= {TARGET_MS} ms at the median over session auth [{added:+.3f} ms]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
