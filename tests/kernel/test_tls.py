"""TLS to the servers we depend on, against real local servers: Redis over TLS (a redis-server started here with a
certificate made here) for the cache and the Celery broker, and PostgreSQL's sslmode reaching libpq."""

import datetime
import os
import shutil
import socket
import subprocess
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.kernel.test_settings import run

PROBE = """
import django
django.setup()
from django.core.cache import cache
cache.set("tls-probe", "over tls", 30)
assert cache.get("tls-probe") == "over tls"
from chatapp.celery import app
with app.connection_for_write() as conn:
    conn.ensure_connection(max_retries=1)
    conn.default_channel.client.ping()
print("ok")
"""


def _cert(subject, issuer_key, key, issuer=None, ca=False):
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(path, obj):
    if isinstance(obj, x509.Certificate):
        path.write_bytes(obj.public_bytes(serialization.Encoding.PEM))
    else:
        path.write_bytes(obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return str(path)


@pytest.fixture
def tls_redis(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _cert("chatapp test CA", ca_key, ca_key, ca=True)
    files = {
        "ca": _pem(tmp_path / "ca.pem", ca),
        "cert": _pem(tmp_path / "server.pem", _cert("localhost", ca_key, key, issuer=ca.subject)),
        "key": _pem(tmp_path / "server.key", key),
    }
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--tls-cert-file", files["cert"], "--tls-key-file", files["key"], "--tls-ca-cert-file", files["ca"],
         "--tls-auth-clients", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port, files
    server.terminate()
    server.wait(timeout=10)


def test_cache_and_broker_talk_tls_to_redis_and_check_its_certificate(tls_redis, tmp_path):
    port, files = tls_redis
    url = f"rediss://localhost:{port}/0"
    ok = run(PROBE, tmp_path, REDIS_URL=url, REDIS_SSL_CA_CERTS=files["ca"])
    assert ok.returncode == 0 and "ok" in ok.stdout, ok.stderr
    # Without our CA the server's certificate is refused, by the cache and the broker alike.
    refused = run(PROBE, tmp_path, REDIS_URL=url)
    assert refused.returncode != 0 and "certificate verify failed" in refused.stderr


def test_postgres_sslmode_reaches_libpq(tmp_path):
    if os.environ.get("DATABASE_URL", "").split(":")[0] not in {"postgres", "postgresql"}:
        pytest.skip("PostgreSQL is not the test database")
    code = "import django; django.setup(); from django.db import connection; connection.ensure_connection()"
    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    plain = run(code, tmp_path, DATABASE_URL=url)
    assert plain.returncode == 0, plain.stderr
    # verify-full with a CA the server's certificate cannot match (or a server without TLS): libpq refuses.
    strict = run(code, tmp_path, DATABASE_URL=url, DATABASE_SSLMODE="verify-full",
                 DATABASE_SSLROOTCERT=str(tmp_path / "no-such-ca.pem"))  # fmt: skip
    assert strict.returncode != 0 and ("SSL" in strict.stderr or "certificate" in strict.stderr)
