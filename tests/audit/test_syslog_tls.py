"""Syslog over TLS verifies the collector's certificate: a real TLS listener on loopback, certificates made here."""

import datetime
import ipaddress
import socket
import ssl
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from audit.streaming.transport import DeliveryError, syslog_send


def _certificate(subject: str, key, issuer_name, issuer_key, *, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )  # fmt: skip
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    return builder.sign(issuer_key or key, hashes.SHA256())


def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _new_ca(name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    return key, _certificate(name, key, None, None, ca=True)


@pytest.fixture
def tls_collector(tmp_path, settings):
    """A TLS syslog listener on 127.0.0.1 whose certificate (for 127.0.0.1) is issued by a CA made here."""
    settings.AUDIT_STREAM_ALLOW_PRIVATE = True
    ca_key, ca = _new_ca("test collector CA")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate("collector", key, ca.subject, ca_key, ca=False)
    (tmp_path / "ca.pem").write_bytes(_pem(ca))
    (tmp_path / "collector.pem").write_bytes(
        _pem(cert)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    _, other_ca = _new_ca("some other CA")
    (tmp_path / "other-ca.pem").write_bytes(_pem(other_ca))

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "collector.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    received: list[bytes] = []

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # closed at teardown
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    received.append(b"".join(iter(lambda: tls.recv(65536), b"")))
            except (ssl.SSLError, OSError):
                received.append(b"handshake refused")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield {"port": listener.getsockname()[1], "received": received, "dir": tmp_path}
    listener.close()
    thread.join(timeout=5)


def test_syslog_tls_verifies_the_collector_certificate(tls_collector, monkeypatch):
    port, received, folder = tls_collector["port"], tls_collector["received"], tls_collector["dir"]
    # The default context trusts what OpenSSL's default verify paths hold; SSL_CERT_FILE points them at one CA.
    monkeypatch.setenv("SSL_CERT_FILE", str(folder / "other-ca.pem"))
    with pytest.raises(DeliveryError, match="SSLCertVerificationError") as refused:
        syslog_send("127.0.0.1", port, True, b"12 not trusted")
    assert "certificate verify failed" in str(refused.value.__cause__)
    assert b"not trusted" not in b"".join(received)

    monkeypatch.setenv("SSL_CERT_FILE", str(folder / "ca.pem"))
    syslog_send("127.0.0.1", port, True, b"11 <110>1 ok!", timeout=5)
    deadline = time.monotonic() + 5  # the listener records what it read once the client has closed
    while len(received) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert received == [b"handshake refused", b"11 <110>1 ok!"]
