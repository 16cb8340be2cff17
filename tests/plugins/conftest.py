"""Plugin test fixtures. The example plugin and the rogue test plugin are built with componentize-py and
compiled once (both cached under var/plugins by source hash and wasm hash), so only the first run pays."""

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from plugins import packages
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
ECHO_DIR = ROOT / "examples" / "plugins" / "echo"
ROGUE_DIR = Path(__file__).resolve().parent / "rogue"


@pytest.fixture(scope="session")
def echo_package():
    from plugins.build import package_make

    return package_make(ECHO_DIR)


@pytest.fixture(scope="session")
def rogue_package():
    from plugins.build import package_make

    return package_make(ROGUE_DIR)


@pytest.fixture(scope="session")
def signing_key():
    return Ed25519PrivateKey.generate()


def public_b64(private_key) -> str:
    return base64.b64encode(private_key.public_key().public_bytes_raw()).decode()


@pytest.fixture
def eager():
    """Celery tasks run in-process (the scan, event deliveries)."""
    from chatapp.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def operator(db):
    """The marketplace operator: staff, member of no organization."""
    return UserFactory(email="operator@chatapp.test", is_staff=True)


@pytest.fixture
def publisher(acme, client_for, signing_key):
    """acme publishes plugins with one active key."""
    client = client_for(acme.admin)
    response = client.post("/api/v1/marketplace/publishers/?org=acme", {"slug": "acme-labs", "name": "Acme Labs"})
    assert response.status_code == 201, response.json()
    response = client.post(
        "/api/v1/marketplace/publishers/acme-labs/keys/", {"public_key": public_b64(signing_key)}, format="json"
    )
    assert response.status_code == 201, response.json()
    return {"client": client, "key_id": response.json()["key_id"], "slug": "acme-labs"}


def upload(client, slug, data: bytes, *, signature="", key_id="", private=False):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        f"/api/v1/marketplace/publishers/{slug}/packages/",
        {"package": SimpleUploadedFile("plugin.zip", data), "signature": signature, "key_id": key_id,
         "private": private},
        format="multipart",
    )  # fmt: skip


@pytest.fixture
def publish(publisher, signing_key, operator, client_for, django_capture_on_commit_callbacks, eager):
    """Sign, upload, scan (compile), review and approve a package; returns the submission JSON."""

    def run(data: bytes, *, approve=True):
        with django_capture_on_commit_callbacks(execute=True):
            response = upload(
                publisher["client"], publisher["slug"], data,
                signature=packages.sign(signing_key, data), key_id=publisher["key_id"],
            )  # fmt: skip
        assert response.status_code == 201, response.json()
        listed = publisher["client"].get(f"/api/v1/marketplace/publishers/{publisher['slug']}/packages/").json()
        submission = next(row for row in listed if row["id"] == response.json()["id"])  # after the scan
        if approve:
            staff = client_for(operator)
            assert staff.post(f"/api/v1/marketplace/review-queue/{submission['id']}/start").status_code == 200
            response = staff.post(f"/api/v1/marketplace/review-queue/{submission['id']}/approve")
            assert response.status_code == 200, response.json()
            submission = response.json()
        return submission

    return run


def with_manifest(data: bytes, **changes) -> bytes:
    """The same package with manifest fields changed (a new version, more capabilities...)."""
    read = packages.package_read(data)
    manifest = json.loads(read.manifest)
    manifest.update(changes)
    return packages.package_build(
        manifest=json.dumps(manifest).encode(), wasm=read.wasm,
        sources={name.removeprefix("src/"): text.encode() for name, text in read.sources.items()},
    )  # fmt: skip


def install(client, org_slug, plugin_id, consent, channel_ids=(), version=None):
    body = {"plugin_id": plugin_id, "consent": list(consent), "channel_ids": list(channel_ids)}
    if version:
        body["version"] = version
    return client.post(f"/api/v1/orgs/{org_slug}/plugins/", body, format="json")
