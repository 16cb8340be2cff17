"""Health, readiness, metrics, request ids and the worker heartbeat."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from prometheus_client.parser import text_string_to_metric_families

from chatapp.kernel.models import WorkerHeartbeat
from chatapp.kernel.tasks import worker_heartbeat

ROOT = Path(__file__).resolve().parents[2]


def test_liveness(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readiness_when_everything_answers(client):
    response = client.get("/health/ready")
    assert response.status_code == 200, response.json()
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "broker": "ok"}}


@pytest.mark.parametrize(
    "env, failed",
    [
        ({"DATABASE_URL": "postgres://nobody@127.0.0.1:9/none"}, "database"),
        ({"REDIS_URL": "redis://127.0.0.1:9/0"}, "cache"),
    ],
)
def test_readiness_is_503_naming_what_failed(tmp_path, env, failed):
    # A separate process, so that the broken dependency is the one the whole app is configured with.
    code = (
        "import django, json; django.setup(); from django.test import Client; "
        "r = Client(HTTP_HOST='localhost').get('/health/ready'); "
        "print(json.dumps({'status': r.status_code, 'body': r.json()}))"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, "DJANGO_SETTINGS_MODULE": "chatapp.settings", "CHATAPP_VAR_DIR": str(tmp_path), **env},
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["status"] == 503
    assert outcome["body"]["status"] == "unavailable"
    assert failed in outcome["body"]["failed"]
    assert outcome["body"]["checks"][failed] != "ok"


def test_request_id_is_returned_and_honoured(client):
    generated = client.get("/health")["X-Request-ID"]
    assert len(generated) == 32
    assert client.get("/health", HTTP_X_REQUEST_ID="trace-42")["X-Request-ID"] == "trace-42"
    # a forged id with spaces or newlines is replaced, so log lines cannot be forged through it
    assert client.get("/health", HTTP_X_REQUEST_ID="bad id\nlevel=error")["X-Request-ID"] != "bad id\nlevel=error"


@pytest.mark.django_db
def test_metrics_parse_and_count_requests_latency_and_queries(acme, client_for, client):
    client_for(acme.member).get(f"/api/v1/orgs/acme/channels/{acme.public.pk}/messages/")
    client_for(acme.member).get("/api/v1/orgs/acme/channels/999999/")
    response = client.get("/metrics")
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    by_view = families["django_http_responses_total_by_status_view_method"]
    seen = {(s.labels["view"], s.labels["status"]) for s in by_view.samples}
    assert ("channel-message-list", "200") in seen
    assert ("channel-detail", "404") in seen
    assert families["django_http_requests_latency_seconds_by_view_method"].type == "histogram"
    executed = families["django_db_execute"].samples
    assert sum(s.value for s in executed if s.name.endswith("_total")) > 0


def test_metrics_can_be_restricted_to_addresses(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.9.9.9"]
    assert client.get("/metrics").status_code == 403
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    assert client.get("/metrics").status_code == 200


@pytest.mark.django_db
def test_heartbeat_task_is_idempotent():
    worker_heartbeat.apply()
    worker_heartbeat.apply()
    assert WorkerHeartbeat.objects.count() == 1


@pytest.mark.django_db
def test_worker_ping_fails_clearly_without_a_worker(settings, tmp_path):
    with pytest.raises(CommandError, match="no worker ran the heartbeat task"):
        call_command("worker_ping", timeout=0.5)


def test_celery_is_configured_for_safe_redelivery():
    from chatapp.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.task_serializer == "json" and app.conf.accept_content == ["json"]
    assert 0 < app.conf.task_soft_time_limit < app.conf.task_time_limit


@pytest.mark.django_db
def test_heartbeat_is_scheduled_in_the_database():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="Worker heartbeat")
    assert task.task == "kernel.worker_heartbeat"
    assert task.enabled and task.interval.every == 60
