"""The read replica router against a real streaming replica made with `pg_basebackup -R` from a scratch primary.

The scenario runs in a separate process configured with DATABASE_URL (the scratch primary) and
DATABASE_REPLICA_URL (the replica), as a deployment would be. Replay on the replica is paused to make it visibly
stale: a read that returns the stale count went to the replica, the fresh count came from the primary.
"""

import importlib.util
import json
import shutil
import subprocess
import sys
import textwrap

import pytest

from chatapp.kernel.db_router import ReplicaRouter, new_unit_of_work, pinned_to_primary, replica_reads
from tests.operations.conftest import ROOT

_spec = importlib.util.spec_from_file_location("pgscratch", ROOT / "bin/pgscratch.py")
pgscratch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pgscratch)

SCENARIO = textwrap.dedent(
    """
    import json, subprocess, sys, time
    import django
    django.setup()
    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command
    from django.db import connections
    from django.http import HttpResponse
    from django.test import RequestFactory, override_settings
    from prometheus_client import REGISTRY
    from chatapp.kernel.db_router import PrimaryPinningMiddleware, new_unit_of_work, replica_health, replica_reads

    out = {}
    call_command("migrate", "contenttypes", verbosity=0)  # on the primary only (allow_migrate)
    replica = connections["replica"]

    def replica_count():
        with replica.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM django_content_type")
            return cursor.fetchone()[0]

    def add(n):
        for _ in range(n):
            ContentType.objects.create(app_label="scratch", model=f"m{ContentType.objects.count()}")

    add(3)
    deadline = time.monotonic() + 30
    while replica_count() != ContentType.objects.count() and time.monotonic() < deadline:
        time.sleep(0.1)
    out["caught_up"] = replica_count() == ContentType.objects.count()
    with replica.cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_pause()")
    stale = ContentType.objects.count()
    add(2)
    new_unit_of_work()  # the next request starts here

    out["stale"], out["fresh"] = stale, ContentType.objects.count()
    out["plain_read"] = ContentType.objects.count()
    with replica_reads():
        out["replica_read"] = ContentType.objects.count()
    out["after_block"] = ContentType.objects.count()

    # A request that writes, then reads through replica_reads(): the read goes to the primary.
    def view(request):
        add(1)
        with replica_reads():
            return HttpResponse(str(ContentType.objects.count()))
    response = PrimaryPinningMiddleware(view)(RequestFactory().get("/"))
    out["read_after_write_in_request"] = int(response.content)
    out["fresh_after_write"] = ContentType.objects.count()
    # The next request has written nothing: the replica again.
    response = PrimaryPinningMiddleware(lambda r: HttpResponse(str(ContentType.objects.count())))
    with replica_reads():
        out["next_request_replica_read"] = int(response(RequestFactory().get("/")).content)

    # Lagging beyond the bound: replay is paused, so the replica's data ages; fall back to the primary.
    time.sleep(2.5)
    with override_settings(DATABASE_REPLICA_MAX_LAG_SECONDS=1):
        replica_health.reset()
        with replica_reads():
            out["lagging_read"] = ContentType.objects.count()
    replica_health.reset()
    with replica_reads():
        out["within_bound_read"] = ContentType.objects.count()

    # Replay resumes: the replica catches up.
    with replica.cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_resume()")
    deadline = time.monotonic() + 30
    while replica_count() != out["fresh_after_write"] and time.monotonic() < deadline:
        time.sleep(0.1)
    replica_health.reset()
    with replica_reads():
        out["caught_up_read"] = ContentType.objects.count()

    # The replica stops: reads fall back to the primary, without an error and quickly.
    subprocess.run(json.loads(sys.argv[1]), check=True, capture_output=True)
    replica_health.reset()
    started = time.monotonic()
    with replica_reads():
        out["down_read"] = ContentType.objects.count()
    out["down_fallback_seconds"] = time.monotonic() - started
    out["routing"] = {
        f"{s.labels['target']}/{s.labels['reason']}": s.value
        for m in REGISTRY.collect() if m.name == "chatapp_db_replica_routing"
        for s in m.samples if s.name.endswith("_total")
    }
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def primary_and_replica():
    base = pgscratch.workdir("chatapp-replica-")
    slot_settings = (ROOT / "deploy/postgresql/chatapp.conf").read_text()
    primary = pgscratch.Cluster.init(
        base / "primary",
        # The production settings (max_slot_wal_keep_size among them), without archiving: nothing to archive to.
        settings=slot_settings + "\narchive_mode = off\nmax_connections = 30\n",
    ).start()
    replica = None
    try:
        primary.psql("CREATE DATABASE chatapp")
        replica_dir = base / "replica"
        pgscratch.run(
            [pgscratch.bindir() / "pg_basebackup", "-h", "127.0.0.1", "-p", primary.port, "-U", "postgres",
             "-D", replica_dir, "-R", "-X", "stream", "-C", "-S", "chatapp_replica", "-c", "fast"]
        )  # fmt: skip
        replica = pgscratch.Cluster(replica_dir, pgscratch.free_port())
        replica.configure()
        replica.start()
        yield primary, replica
    finally:
        if replica:
            replica.stop("immediate")
        primary.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


def test_router_reads_chosen_queries_from_the_replica_and_falls_back(primary_and_replica):
    primary, replica = primary_and_replica
    assert replica.psql("SELECT pg_is_in_recovery()") == "t"
    assert primary.psql("SHOW max_slot_wal_keep_size") == "20GB"
    assert primary.psql("SELECT slot_name FROM pg_replication_slots") == "chatapp_replica"
    stop_replica = pgscratch.as_owner([pgscratch.bindir() / "pg_ctl", "-D", replica.datadir, "-m", "immediate",
                                       "-w", "stop"])  # fmt: skip
    env = {
        "DJANGO_SETTINGS_MODULE": "chatapp.settings",
        "DATABASE_URL": f"{primary.url}/chatapp",
        "DATABASE_REPLICA_URL": f"{replica.url}/chatapp",
        "DATABASE_REPLICA_MAX_LAG_SECONDS": "30",
        "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCENARIO, json.dumps(stop_replica)],
        cwd=ROOT, capture_output=True, text=True, timeout=180, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["caught_up"]
    stale, fresh = out["stale"], out["fresh"]
    assert fresh == stale + 2
    # Only the reads inside replica_reads() went to the (paused, so stale) replica.
    assert out["plain_read"] == fresh
    assert out["replica_read"] == stale
    assert out["after_block"] == fresh
    # Never a read of what the same request just wrote; the pin ends with the request.
    assert out["read_after_write_in_request"] == out["fresh_after_write"] == fresh + 1
    assert out["next_request_replica_read"] == stale
    # Beyond the lag bound: the primary; within it: the replica.
    assert out["lagging_read"] == fresh + 1
    assert out["within_bound_read"] == stale
    assert out["caught_up_read"] == fresh + 1
    # Down: the primary, at once.
    assert out["down_read"] == fresh + 1
    assert out["down_fallback_seconds"] < 3
    routing = out["routing"]
    assert routing["replica/ok"] >= 3
    assert routing["primary/wrote_in_request"] == 1
    assert routing["primary/lagging"] == 1
    assert routing["primary/down"] == 1


@pytest.mark.django_db
def test_without_a_replica_replica_reads_change_nothing(acme):
    from accounts.models import Organization

    with replica_reads():
        assert Organization.objects.filter(slug="acme").exists()
    assert ReplicaRouter().db_for_read(Organization) is None


def test_writes_pin_and_migrations_stay_on_the_primary():
    from django.contrib.contenttypes.models import ContentType

    router = ReplicaRouter()
    assert router.allow_migrate("replica", "chat") is False
    assert router.allow_migrate("default", "chat") is True
    new_unit_of_work()
    assert not pinned_to_primary()
    assert router.db_for_write(ContentType) == "default"
    assert pinned_to_primary()
    new_unit_of_work()
    assert not pinned_to_primary()


READINESS = textwrap.dedent(
    """
    import json, subprocess, sys, time
    import django
    django.setup()
    from django.test import Client

    stop, start = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    client = Client(HTTP_HOST="localhost")
    out = {"before": client.get("/health/ready").status_code}

    def until(status, limit=60):
        started = time.monotonic()
        while time.monotonic() - started < limit:
            response = client.get("/health/ready")
            if response.status_code == status:
                return time.monotonic() - started, response.json()
            time.sleep(0.1)
        return None, None

    subprocess.run(stop, check=True, capture_output=True)
    out["to_503"], out["down_body"] = until(503)
    subprocess.run(start, check=True, capture_output=True)
    out["to_200"], _ = until(200)
    print(json.dumps(out))
    """
)


def test_readiness_turns_503_within_5s_when_the_database_stops_and_200_when_it_returns():
    base = pgscratch.workdir("chatapp-ready-")
    cluster = pgscratch.Cluster.init(base / "db").start()
    try:
        cluster.psql("CREATE DATABASE chatapp")
        pg_ctl = [pgscratch.bindir() / "pg_ctl", "-D", cluster.datadir, "-l", cluster.log, "-w"]
        stop = pgscratch.as_owner([*pg_ctl, "-m", "immediate", "stop"])
        start = pgscratch.as_owner([*pg_ctl, "start"])
        env = {
            "DJANGO_SETTINGS_MODULE": "chatapp.settings",
            "DATABASE_URL": f"{cluster.url}/chatapp",
            "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
            "CHATAPP_VAR_DIR": str(base / "var"),
        }
        result = subprocess.run(
            [sys.executable, "-c", READINESS, json.dumps(stop), json.dumps(start)],
            cwd=ROOT, capture_output=True, text=True, timeout=180, env=env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        out = json.loads(result.stdout.strip().splitlines()[-1])
        assert out["before"] == 200
        assert out["to_503"] is not None and out["to_503"] < 5, out
        assert out["down_body"]["failed"] == ["database"]
        assert out["to_200"] is not None and out["to_200"] < 10, out
    finally:
        cluster.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)
