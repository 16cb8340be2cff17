"""bin/smoke against a running instance: one line per check, non-zero exit when one fails."""

import io
import subprocess
import sys
from pathlib import Path

from django.core.management import call_command

from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def smoke(*args):
    return subprocess.run([sys.executable, str(ROOT / "bin/smoke"), *args], capture_output=True, text=True, timeout=120)


def test_smoke_passes_every_check_against_a_live_server(live_server, allow_audit_flush, acme):
    key = io.StringIO()
    call_command(
        "create_api_key", org="acme", user=acme.owner.email, scopes="channels.view", stdout=key, stderr=io.StringIO()
    )
    result = smoke(
        live_server.url, "--email", acme.owner.email, "--password", PASSWORD, "--api-key", key.getvalue().strip()
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for check in ("readiness", "liveness", "login", "post and read a message", "API-key call", "metrics scrape"):
        assert any(line.startswith(f"✓ {check}") for line in lines), (check, lines)
    # No worker in this test: the Celery check says so instead of claiming a pass.
    assert "- Celery round trip: not checked (pass --worker-ping)" in lines
    assert lines[-1].endswith("7 passed · 0 failed · 1 not checked")
    # the smoke message was deleted again
    assert not acme.public.messages.exists()


def test_smoke_fails_naming_the_check(live_server, allow_audit_flush, acme):
    result = smoke(live_server.url, "--email", acme.owner.email, "--password", "wrong-password", "--wait", "5")
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith("✓ readiness")
    assert any(line.startswith("✗ login: POST /api/v1/auth/session answered 4") for line in result.stdout.splitlines())
    assert "1 failed" in result.stdout.splitlines()[-1]


def test_smoke_fails_when_nothing_answers():
    result = smoke("http://127.0.0.1:9", "--wait", "1")
    assert result.returncode == 1
    assert result.stdout.startswith("✗ readiness: GET /health/ready")
