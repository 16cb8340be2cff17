"""Helpers for the operator scripts' tests: the production profile's secrets, run a script, free ports."""

import base64
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def production_env(**extra):
    """What an operator's /etc/chatapp/chatapp.env holds, with throwaway secrets (as .ci/smoke makes them)."""
    return {
        "CHATAPP_ENV": "production",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "AUDIT_HMAC_KEYS": "t=" + secrets.token_urlsafe(48),
        "AUDIT_SIGNING_KEYS": "t=" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "FIELD_ENCRYPTION_KEYS": "t=" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "API_KEY_HMAC_KEY": secrets.token_urlsafe(48),
        **extra,
    }


def run_script(script, *args, env=None, timeout=300):
    environment = {**os.environ, **(env or {})}
    environment = {key: value for key, value in environment.items() if value is not None}  # None removes
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
    )


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def var_dir(tmp_path):
    return {"CHATAPP_VAR_DIR": str(tmp_path)}
