"""Encryption at rest costs, our code against a baseline in the same run.

- field read: rows loaded and one field read, an EncryptedTextField (StreamDestination.signing_secret) against a
  plain text column of the same rows and length (its `url`): the ratio and the microseconds added per value
- decrypt alone: one AES-256-GCM open with its envelope parsing and binding, per value
- rotation: rows re-encrypted per second by `rotation_run` (what `manage.py rotate_encryption_keys` runs)

It works in a throwaway database (Django's test database, created and dropped here, migrations applied), so it
never rotates the keys of real data: run it with the settings of the database server to measure, e.g.
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/chatapp_bench .venv/bin/python bench/encryption_bench.py
Prints a table and PASS/MISSED against the targets of the data-protection issue (docs/performance.md).
"""

import base64
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatapp.settings")
django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Organization  # noqa: E402
from audit.models import StreamDestination  # noqa: E402
from audit.services import Actor  # noqa: E402
from chatapp.kernel.encryption.services import rotation_run, rotation_start  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"
ROWS = 5_000 if QUICK else 20_000
ROUNDS = 5


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def read_seconds(field: str) -> float:
    """Load every row with only `field` (and what binds it) and read that field: the median of ROUNDS runs."""
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for row in StreamDestination.objects.only("pk", "encryption_id", field).iterator(chunk_size=2000):
            getattr(row, field)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main():
    old_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    old, new = new_key(), new_key()
    try:
        with override_settings(FIELD_ENCRYPTION_KEYS={"old": old}):
            org = Organization.objects.create(slug="encbench", name="Encryption bench")
            secret_like = [secrets.token_hex(32) for _ in range(ROWS)]  # 64 characters, as generate_secret()
            StreamDestination.objects.bulk_create(
                (StreamDestination(organization=org, name=f"d{i}", kind="webhook", url=value, signing_secret=value)
                 for i, value in enumerate(secret_like)),
                batch_size=2000,
            )  # fmt: skip

            # 1. read overhead, side by side (alternating, so both sides share the machine's state)
            read_seconds("url"), read_seconds("signing_secret")  # warm-up
            plain, encrypted = read_seconds("url"), read_seconds("signing_secret")
            added_us = (encrypted - plain) / ROWS * 1e6

            # 2. the decryption alone
            field = StreamDestination._meta.get_field("signing_secret")
            rows = list(StreamDestination.objects.only("pk", "encryption_id", "signing_secret")[:2000])
            envelopes = [row.__dict__["signing_secret"].envelope for row in rows]
            started = time.perf_counter()
            for row, envelope in zip(rows, envelopes, strict=True):
                field.decrypt(row, envelope)
            decrypt_us = (time.perf_counter() - started) / len(rows) * 1e6

        # 3. rotation to a new key, then the old key is dropped and every row must still read
        with override_settings(FIELD_ENCRYPTION_KEYS={"new": new, "old": old}):
            rotation = rotation_start(actor=Actor.system("encryption bench"))
            started = time.perf_counter()
            rotation = rotation_run(rotation.pk)
            elapsed = time.perf_counter() - started
            rewritten = sum(step.rows_rewritten for step in rotation.steps.all())
        with override_settings(FIELD_ENCRYPTION_KEYS={"new": new}):
            readable = sum(row.signing_secret == row.url for row in StreamDestination.objects.iterator())
    finally:
        connection.creation.destroy_test_db(old_db, verbosity=0)

    rate = rewritten / elapsed
    vendor = connection.vendor
    print(f"\nencryption bench ({timezone.now():%Y-%m-%d %H:%M} UTC, {vendor}, {ROWS:,} rows)\n")
    print(f"{'what':52} {'total ms':>10} {'us/row':>8}")
    print(f"{'read a plain text field (url)':52} {plain * 1000:10.1f} {plain / ROWS * 1e6:8.2f}")
    print(f"{'read an EncryptedTextField (signing_secret)':52} {encrypted * 1000:10.1f} {encrypted / ROWS * 1e6:8.2f}")
    print(f"{'  ratio encrypted / plain':52} {encrypted / plain:10.2f}x")
    print(f"{'  added per encrypted value':52} {'':10} {added_us:8.2f}")
    print(f"{'decrypt alone (envelope, binding, AES-GCM open)':52} {'':10} {decrypt_us:8.2f}")
    rotation_name = f"rotation: {rewritten:,} values re-encrypted"
    print(f"{rotation_name:52} {elapsed * 1000:10.1f} {elapsed / rewritten * 1e6:8.2f}")
    print(f"{'  rows per second':52} {rate:10,.0f}")
    print()
    verdicts = [
        (added_us <= 20, f"an encrypted field read adds <= 20 us [{added_us:.1f} us, {encrypted / plain:.2f}x]"),
        (rate >= 5000, f"rotation >= 5,000 rows/s [{rate:,.0f}/s on {vendor}]"),
        (readable == ROWS, f"every row reads after the old key is removed [{readable:,}/{ROWS:,}]"),
    ]
    for ok, text in verdicts:
        print(f"{'PASS' if ok else 'MISSED':7} {text}")
    return 0 if readable == ROWS else 1


if __name__ == "__main__":
    sys.exit(main())
