"""Settings come from the environment only; each case runs Django in a fresh process with its own environment."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DUMP = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "debug": settings.DEBUG, "engine": db["ENGINE"], "name": db["NAME"], "conn_max_age": db.get("CONN_MAX_AGE"),
    "health_checks": db.get("CONN_HEALTH_CHECKS"), "cache": settings.CACHES["default"]["BACKEND"],
    "broker": settings.CELERY_BROKER_URL, "email": settings.EMAIL_BACKEND, "hosts": settings.ALLOWED_HOSTS,
    "ssl_redirect": settings.SECURE_SSL_REDIRECT, "hsts": settings.SECURE_HSTS_SECONDS,
    "secret": settings.SECRET_KEY, "acks_late": settings.CELERY_TASK_ACKS_LATE,
    "field_keys": list(settings.FIELD_ENCRYPTION_KEYS), "db_options": db.get("OPTIONS", {}),
    "cache_options": settings.CACHES["default"].get("OPTIONS", {}),
    "broker_ssl": {k: getattr(v, "name", v) for k, v in getattr(settings, "CELERY_BROKER_USE_SSL", {}).items()},
    "email_tls": getattr(settings, "EMAIL_USE_TLS", False), "email_ssl": getattr(settings, "EMAIL_USE_SSL", False),
}))
"""
PRODUCTION = {
    "CHATAPP_ENV": "production",
    "SECRET_KEY": "p" * 30 + "-production-secret-that-is-long-enough-for-django",
    "ALLOWED_HOSTS": "chat.example.com",
    "AUDIT_HMAC_KEYS": "k1=" + "a" * 40,
    "AUDIT_SIGNING_KEYS": "s1=" + "A" * 43 + "=",  # base64 of 32 bytes
    "FIELD_ENCRYPTION_KEYS": "f1=" + "B" * 43 + "=",  # base64 of 32 bytes
    "API_KEY_HMAC_KEY": "h" * 40,
}


def run(code_or_args, tmp_path, **env):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "CELERY_", "EMAIL_"))}
    base.pop("SECRET_KEY", None)
    base.update(DJANGO_SETTINGS_MODULE="chatapp.settings", CHATAPP_VAR_DIR=str(tmp_path / "var"), **env)
    args = [sys.executable, "-c", code_or_args] if isinstance(code_or_args, str) else [sys.executable, *code_or_args]
    return subprocess.run(args, cwd=ROOT, env=base, capture_output=True, text=True, timeout=60)


def dump(tmp_path, **env):
    result = run(DUMP, tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_development_default_needs_no_servers(tmp_path):
    s = dump(tmp_path)
    assert s["debug"] is True
    assert s["engine"] == "django_prometheus.db.backends.sqlite3"
    assert s["name"] == str(tmp_path / "var" / "db.sqlite3")
    assert s["cache"].endswith("LocMemCache")
    assert s["broker"] == "filesystem://"
    assert s["email"] == "django.core.mail.backends.filebased.EmailBackend"


def test_development_field_encryption_key_is_generated_once_and_kept(tmp_path):
    assert dump(tmp_path)["field_keys"] == ["dev"]
    key_file = tmp_path / "var" / "field_encryption_key"
    first = key_file.read_text()
    dump(tmp_path)
    assert key_file.read_text() == first and key_file.stat().st_mode & 0o777 == 0o600


def test_field_encryption_keys_keep_their_order_newest_first(tmp_path):
    keys = "k2=" + "B" * 43 + "=, k1=" + "C" * 43 + "="
    assert dump(tmp_path, FIELD_ENCRYPTION_KEYS=keys)["field_keys"] == ["k2", "k1"]


def test_postgres_tls_options(tmp_path):
    s = dump(tmp_path, **PRODUCTION, DATABASE_URL="postgres://u@db.internal/chat", DATABASE_SSLMODE="verify-full",
             DATABASE_SSLROOTCERT="/etc/chatapp/db-ca.pem")  # fmt: skip
    assert s["db_options"]["sslmode"] == "verify-full"
    assert s["db_options"]["sslrootcert"] == "/etc/chatapp/db-ca.pem"
    # explicitly allowed, or on the same host, clear text is accepted
    assert dump(tmp_path, **PRODUCTION, DATABASE_URL="postgres://u@db.internal/chat", DATABASE_ALLOW_PLAINTEXT="1")
    assert "sslmode" not in dump(tmp_path, **PRODUCTION, DATABASE_URL="postgres://u@127.0.0.1/chat")["db_options"]


def test_redis_tls_options_for_cache_and_broker(tmp_path):
    s = dump(tmp_path, **PRODUCTION, REDIS_URL="rediss://cache.internal:6380/0", REDIS_SSL_CA_CERTS="/etc/ca.pem")
    assert s["cache_options"]["ssl_cert_reqs"] == "required" and s["cache_options"]["ssl_check_hostname"] is True
    assert s["cache_options"]["ssl_ca_certs"] == "/etc/ca.pem"
    assert s["broker"] == "rediss://cache.internal:6380/0"
    assert s["broker_ssl"] == {"ssl_cert_reqs": "CERT_REQUIRED", "ssl_ca_certs": "/etc/ca.pem",
                               "ssl_check_hostname": True}  # fmt: skip
    loose = dump(tmp_path, REDIS_URL="rediss://cache.internal:6380/0", REDIS_SSL_CERT_REQS="none")
    assert loose["cache_options"]["ssl_check_hostname"] is False
    assert loose["broker_ssl"]["ssl_cert_reqs"] == "CERT_NONE"


def test_smtp_tls_in_production(tmp_path):
    assert dump(tmp_path, **PRODUCTION, EMAIL_URL="smtp+tls://u:p@mail.example.com:587")["email_tls"] is True
    assert dump(tmp_path, **PRODUCTION, EMAIL_URL="smtp+ssl://u:p@mail.example.com:465")["email_ssl"] is True
    relay = dump(tmp_path, **PRODUCTION, EMAIL_URL="smtp://localhost:25", EMAIL_ALLOW_PLAINTEXT="true")
    assert relay["email"].endswith("smtp.EmailBackend") and relay["email_tls"] is False


def test_development_secret_key_is_generated_once_and_kept(tmp_path):
    first, second = dump(tmp_path)["secret"], dump(tmp_path)["secret"]
    assert first == second
    assert len(first) >= 50
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o777 == 0o600


def test_postgres_and_redis_from_urls(tmp_path):
    s = dump(tmp_path, DATABASE_URL="postgres://u:p@db.internal:5432/chat", REDIS_URL="redis://cache:6379/1")
    assert s["engine"] == "django_prometheus.db.backends.postgresql"
    assert s["name"] == "chat"
    assert s["conn_max_age"] > 0 and s["health_checks"] is True
    assert s["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert s["broker"] == "redis://cache:6379/1"
    assert s["acks_late"] is True


def test_broker_url_overrides_redis(tmp_path):
    s = dump(tmp_path, REDIS_URL="redis://cache:6379/1", CELERY_BROKER_URL="amqp://guest:guest@mq:5672//")
    assert s["broker"] == "amqp://guest:guest@mq:5672//"


def test_email_url(tmp_path):
    assert dump(tmp_path, EMAIL_URL="smtp://mail.internal:25")["email"].endswith("smtp.EmailBackend")


@pytest.mark.parametrize(
    "env, message",
    [
        ({"CHATAPP_ENV": "production", "ALLOWED_HOSTS": "x.example"}, "SECRET_KEY is required"),
        ({**PRODUCTION, "ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS is required"),
        ({**PRODUCTION, "AUDIT_HMAC_KEYS": ""}, "AUDIT_HMAC_KEYS is required"),
        ({"AUDIT_HMAC_KEYS": "k1=short"}, "AUDIT_HMAC_KEYS entries look like"),
        ({**PRODUCTION, "AUDIT_SIGNING_KEYS": ""}, "AUDIT_SIGNING_KEYS is required"),
        ({"AUDIT_SIGNING_KEYS": "s1=bm90LTMyLWJ5dGVz"}, "AUDIT_SIGNING_KEYS entries look like"),
        ({**PRODUCTION, "FIELD_ENCRYPTION_KEYS": ""}, "FIELD_ENCRYPTION_KEYS is required"),
        ({"FIELD_ENCRYPTION_KEYS": "f1=bm90LTMyLWJ5dGVz"}, "FIELD_ENCRYPTION_KEYS entries look like"),
        ({"FIELD_ENCRYPTION_KEYS": "org.1=" + "B" * 43 + "="}, "FIELD_ENCRYPTION_KEYS entries look like"),
        ({"FIELD_ENCRYPTION_KEYS": "f1=" + "B" * 43 + "=,f1=" + "C" * 43 + "="}, "with unique ids"),
        ({"DATABASE_URL": "postgres://u@db.internal/chat", "DATABASE_SSLMODE": "sometimes"}, "DATABASE_SSLMODE must"),
        ({**PRODUCTION, "DATABASE_URL": "postgres://u@db.internal/chat"}, "DATABASE_SSLMODE must be require"),
        ({**PRODUCTION, "DATABASE_URL": "postgres://u@db.internal/chat?sslmode=prefer"}, "DATABASE_SSLMODE must"),
        ({**PRODUCTION, "REDIS_URL": "redis://cache.internal:6379/0"}, "must be rediss://"),
        ({**PRODUCTION, "CELERY_BROKER_URL": "redis://mq.internal:6379/0"}, "must be rediss://"),
        ({"REDIS_SSL_CERT_REQS": "maybe"}, "REDIS_SSL_CERT_REQS must be"),
        ({**PRODUCTION, "EMAIL_URL": "smtp://mail.internal:25"}, "EMAIL_URL must be smtp+tls:// or smtp+ssl://"),
        ({**PRODUCTION, "API_KEY_HMAC_KEY": ""}, "API_KEY_HMAC_KEY is required"),
        ({"API_KEY_HMAC_KEY": "short"}, "API_KEY_HMAC_KEY must be at least 32"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be"),
        ({"CHATAPP_ENV": "staging"}, "CHATAPP_ENV must be"),
    ],
)
def test_misconfiguration_fails_loudly(tmp_path, env, message):
    result = run(DUMP, tmp_path, **env)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_profile(tmp_path):
    s = dump(tmp_path, **PRODUCTION)
    assert s["debug"] is False
    assert s["ssl_redirect"] is True and s["hsts"] >= 31536000
    assert s["hosts"] == ["chat.example.com"]


def test_production_profile_passes_the_deploy_check(tmp_path):
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], tmp_path, **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_development_profile_fails_the_deploy_check(tmp_path):
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], tmp_path)
    assert result.returncode != 0
    assert "security.W018" in result.stderr  # DEBUG on
