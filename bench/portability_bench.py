"""Organization export: the streamed archive against a whole-table baseline, in the same run.

- ours: `org_archive_write` (what `manage.py export_org` and the Celery job run): every model read with one chunked
  query (a server-side cursor on PostgreSQL), written line by line into the tar.gz
- baseline: the naive export, each table loaded into one list (`list(qs.values())`) and dumped with json, then
  gzipped: what `dumpdata`-style code does
- import: `org_import` of our archive into a new organization (one transaction, ids remapped)

Each export runs in a child process of its own, so its peak resident memory (ru_maxrss) is its own. It works in a
throwaway database (Django's test database, created and dropped here): run it on PostgreSQL as CI does, e.g.
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/chatapp_portability .venv/bin/python bench/portability_bench.py
BENCH_QUICK=1: 20,000 messages instead of 1,000,000. Targets (docs/performance.md): 1,000,000 messages exported
in < 60 s with < 300 MB peak. Prints a table, the ratios, and PASS/MISSED.
"""

import gzip
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatapp.settings")
django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Membership, Organization, User  # noqa: E402
from accounts.services.portability import org_archive_write, org_import  # noqa: E402
from accounts.services.portability.registry import selected  # noqa: E402
from chatapp.chat.models import Channel, ChannelMember, Message  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"
MESSAGES = int(os.environ.get("BENCH_MESSAGES", 20_000 if QUICK else 1_000_000))
CHANNELS, USERS = 20, 50
TARGET_SECONDS, TARGET_MB = 60, 300


def seed() -> Organization:
    org = Organization.objects.create(slug="bench-export", name="Bench export")
    users = User.objects.bulk_create(
        User(email=f"person{i}@bench.example", full_name=f"Person {i}", password="!") for i in range(USERS)
    )
    Membership.objects.bulk_create(Membership(organization=org, user=user) for user in users)
    channels = Channel.objects.bulk_create(Channel(organization=org, name=f"channel-{i}") for i in range(CHANNELS))
    ChannelMember.objects.bulk_create(
        ChannelMember(organization=org, channel=channel, user=user) for channel in channels for user in users[:10]
    )
    body = "A typical message of about a hundred characters, with some words in it, about the work of the day."
    if connection.vendor == "postgresql":
        # generate_series: a million rows in seconds, without holding them in Python.
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO chat_message (organization_id, channel_id, author_id, body, created)
                SELECT %s, (%s::bigint[])[1 + i %% %s], (%s::bigint[])[1 + i %% %s], %s || i, now() - i * interval '1 s'
                FROM generate_series(1, %s) AS i
                """,
                [org.pk, [c.pk for c in channels], CHANNELS, [u.pk for u in users], USERS, body, MESSAGES],
            )
            cursor.execute("ANALYZE chat_message")
    else:
        now = timezone.now()
        batch = []
        for i in range(MESSAGES):
            batch.append(Message(organization=org, channel=channels[i % CHANNELS], author=users[i % USERS],
                                 body=f"{body}{i}", created=now))  # fmt: skip
            if len(batch) == 5000:
                Message.objects.bulk_create(batch)
                batch = []
        Message.objects.bulk_create(batch)
    return org


def _ours(org_id: int, destination: str) -> None:
    org_archive_write(org=Organization.objects.get(pk=org_id), destination=Path(destination))


def _baseline(org_id: int, destination: str) -> None:
    org = Organization.objects.get(pk=org_id)
    with gzip.open(destination, "wt", compresslevel=6) as handle:
        for entry in selected(include_optional=False):
            rows = list(entry.queryset(org).values())  # the whole table in memory at once
            handle.write(json.dumps({entry.key: rows}, default=str))


def _child(function, org_id, destination, results):
    connection.close()  # a connection of its own, never the parent's socket
    started = time.perf_counter()
    function(org_id, destination)
    seconds = time.perf_counter() - started
    results.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))  # kB -> MB


def measure(function, org_id: int, destination: Path) -> tuple[float, float, int]:
    """(seconds, peak MB, bytes) of `function` run in a forked child process."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    connection.close()
    process = context.Process(target=_child, args=(function, org_id, str(destination), results))
    process.start()
    seconds, peak = results.get()
    process.join()
    return seconds, peak, destination.stat().st_size


def main():
    old_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        started = time.perf_counter()
        org = seed()
        print(f"seeded {MESSAGES:,} messages on {connection.vendor} in {time.perf_counter() - started:.1f} s")
        print("load average before the exports (2 shared vCPUs): {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
        baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        with tempfile.TemporaryDirectory() as directory:
            ours = measure(_ours, org.pk, Path(directory) / "ours.tar.gz")
            base = measure(_baseline, org.pk, Path(directory) / "baseline.json.gz")
            connection.connect()
            started = time.perf_counter()
            job = org_import(archive=Path(directory) / "ours.tar.gz", org_slug="bench-import")
            imported = time.perf_counter() - started
        print("load average after the import: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
        print(f"(the parent process, forked into each child, had a peak of {baseline_rss:.0f} MB before them)")
        print(f"{'':28}{'seconds':>10}{'peak MB':>10}{'MB file':>10}{'rows/s':>12}")
        for name, (seconds, peak, size) in (("streamed archive (ours)", ours), ("whole-table lists (base)", base)):
            print(f"{name:28}{seconds:10.1f}{peak:10.0f}{size / 1e6:10.1f}{MESSAGES / seconds:12,.0f}")
        rate = job.counts["chat.message"] / imported
        print(f"{'import of our archive':28}{imported:10.1f}{'':10}{'':10}{rate:12,.0f}")
        print(f"ratio ours/baseline: time {ours[0] / base[0]:.2f}, peak memory {ours[1] / base[1]:.2f}")
        scale = 1_000_000 / MESSAGES
        ok_time, ok_memory = ours[0] * scale < TARGET_SECONDS, ours[1] < TARGET_MB
        note = "" if MESSAGES == 1_000_000 else f" (time scaled linearly to 1,000,000 from {MESSAGES:,})"
        print(f"{'PASS' if ok_time else 'MISSED'} export of 1,000,000 messages < {TARGET_SECONDS} s: "
              f"{ours[0] * scale:.1f} s{note}")  # fmt: skip
        print(f"{'PASS' if ok_memory else 'MISSED'} peak memory < {TARGET_MB} MB: {ours[1]:.0f} MB")
    finally:
        connection.creation.destroy_test_db(old_db, verbosity=0)


if __name__ == "__main__":
    main()
