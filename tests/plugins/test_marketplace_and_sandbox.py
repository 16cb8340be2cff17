"""The example plugin end to end (compiled, signed, uploaded, scanned, approved, installed with consent,
answering a posted message), the sandbox's limits, and the package checks that refuse bad uploads."""

import io
import json
import stat
import zipfile

import pytest
from django.core import mail

from audit.models import AuditEvent
from chatapp.chat.models import Message
from plugins import packages
from plugins.models import Installation, PluginVersion
from tests.plugins.conftest import install, public_b64, upload, with_manifest

ECHO = "com.example.echo"
ECHO_CAPS = ["messages.read", "messages.post", "events.subscribe", "commands.register"]
ROGUE = "com.example.rogue"
ROGUE_CAPS = ["messages.read", "messages.post", "events.subscribe", "http.outbound", "kv.store"]


def post(client, org, channel, body, capture):
    with capture(execute=True):
        response = client.post(f"/api/v1/orgs/{org}/channels/{channel.pk}/messages/", {"body": body}, format="json")
    assert response.status_code == 201, response.json()


def test_example_plugin_end_to_end(acme, globex, client_for, publish, echo_package, eager,
                                   django_capture_on_commit_callbacks):  # fmt: skip
    submission = publish(echo_package)
    assert submission["status"] == "approved" and submission["findings"] == []
    listing = client_for(globex.member).get(f"/api/v1/marketplace/plugins/{ECHO}/").json()
    assert listing["versions"][0]["signed"] is True and listing["capabilities"] == ECHO_CAPS
    response = install(client_for(acme.admin), "acme", ECHO, ECHO_CAPS, channel_ids=[acme.public.pk])
    assert response.status_code == 201, response.json()

    post(client_for(acme.member), "acme", acme.public, "!echo from the sandbox", django_capture_on_commit_callbacks)
    reply = Message.objects.filter(channel=acme.public).order_by("-pk").first()
    assert reply.body == "from the sandbox" and reply.author_id == response.json()["service_user_id"]
    call = AuditEvent.objects.get(event_name="plugin.api_call")
    assert call.actor_label == "plugin:com.example.echo@1.0.0" and call.target_id == "post_message"
    metrics = client_for(acme.admin).get(f"/api/v1/orgs/acme/plugins/{ECHO}/").json()["metrics"]
    assert metrics["calls"] == 1 and metrics["fuel_used"] > 0

    # the same plugin is not installed in globex: nothing answers there
    post(client_for(globex.member), "globex", globex.public, "!echo anyone?", django_capture_on_commit_callbacks)
    assert Message.objects.filter(channel=globex.public, body="anyone?").count() == 0

    # its slash command runs in the sandbox too
    response = client_for(acme.member).post(
        "/api/v1/orgs/acme/plugins/commands", {"command": "/echo", "text": "hi", "channel_id": acme.public.pk},
        format="json",
    )  # fmt: skip
    assert response.json() == {"plugin_id": ECHO, "response": {"text": "hi"}}


def test_upgrade_asking_a_new_capability_waits_for_consent(acme, client_for, publish, echo_package):
    publish(echo_package)
    client = client_for(acme.admin)
    assert install(client, "acme", ECHO, ECHO_CAPS).status_code == 201
    publish(with_manifest(echo_package, version="1.1.0", capabilities=[*ECHO_CAPS, "members.read"]))
    response = client.post(f"/api/v1/orgs/acme/plugins/{ECHO}/version", {"version": "1.1.0"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["version"], body["pending_version"], body["pending_capabilities"]) == ("1.0.0", "1.1.0",
                                                                                        ["members.read"])  # fmt: skip
    assert AuditEvent.objects.filter(event_name="plugin.upgrade_pending").count() == 1
    response = client.post(f"/api/v1/orgs/acme/plugins/{ECHO}/consent", {"consent": ["members.read"]}, format="json")
    assert response.json()["version"] == "1.1.0" and "members.read" in response.json()["consented_capabilities"]
    # downgrade needs no new consent; pinning is recorded
    response = client.post(f"/api/v1/orgs/acme/plugins/{ECHO}/version", {"version": "1.0.0"}, format="json")
    assert response.json()["version"] == "1.0.0"
    assert client.post(f"/api/v1/orgs/acme/plugins/{ECHO}/pin").json()["pinned"] is True


def test_min_version_mismatch_is_refused_with_a_clear_message(acme, client_for, publish, echo_package):
    publish(with_manifest(echo_package, version="2.0.0", min_chatapp_version="99.0.0"))
    response = install(client_for(acme.admin), "acme", ECHO, ECHO_CAPS, version="2.0.0")
    assert response.status_code == 400
    assert response.json()["errors"]["version"] == [
        "Echo 2.0.0 needs chatapp 99.0.0 or later; this server runs chatapp 0.1.0."
    ]


def test_unapproved_versions_do_not_install_and_nobody_approves_their_own(
    acme, client_for, publish, echo_package, operator
):
    submission = publish(echo_package, approve=False)
    assert submission["status"] == "scanned"
    assert install(client_for(acme.admin), "acme", ECHO, ECHO_CAPS).status_code == 400
    response = client_for(acme.admin).post(f"/api/v1/marketplace/review-queue/{submission['id']}/start")
    assert response.status_code == 403  # acme.admin uploaded it and is not an operator
    staff = client_for(operator)
    response = staff.post(f"/api/v1/marketplace/review-queue/{submission['id']}/reject", {"reason": ""}, format="json")
    assert response.status_code == 400
    response = staff.post(f"/api/v1/marketplace/review-queue/{submission['id']}/reject", {"reason": "no docs"},
                          format="json")  # fmt: skip
    assert response.json()["status"] == "rejected" and response.json()["review_reason"] == "no docs"


def test_yanked_version_is_disabled_everywhere_and_admins_told(acme, client_for, publish, echo_package, operator,
                                                               django_capture_on_commit_callbacks):  # fmt: skip
    submission = publish(echo_package)
    install(client_for(acme.admin), "acme", ECHO, ECHO_CAPS)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(operator).post(f"/api/v1/marketplace/review-queue/{submission['id']}/yank",
                                             {"reason": "malware"}, format="json")  # fmt: skip
    assert response.json()["status"] == "yanked"
    installation = Installation.objects.get()
    assert installation.enabled is False and "withdrawn" in installation.disabled_reason
    assert sorted(mail.outbox[-1].to) == ["admin@acme.test", "owner@acme.test"]


# --- package checks ---------------------------------------------------------------------------------------


def refused(response, fragment):
    assert response.status_code == 400, response.json()
    assert fragment in response.json()["errors"]["package"][0]
    assert AuditEvent.objects.filter(event_name="plugin.package_refused").exists()
    assert not PluginVersion.objects.exists()


def test_a_package_with_one_byte_changed_is_refused(publisher, signing_key, echo_package):
    signature = packages.sign(signing_key, echo_package)
    tampered = bytearray(echo_package)
    tampered[len(tampered) // 2] ^= 0x01
    response = upload(publisher["client"], publisher["slug"], bytes(tampered), signature=signature,
                      key_id=publisher["key_id"])  # fmt: skip
    assert response.status_code == 400
    assert not PluginVersion.objects.exists()


def test_unknown_and_revoked_keys_are_refused(publisher, echo_package):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stranger = Ed25519PrivateKey.generate()
    response = upload(publisher["client"], publisher["slug"], echo_package,
                      signature=packages.sign(stranger, echo_package),
                      key_id=packages.key_id_of(public_b64(stranger)))  # fmt: skip
    refused(response, "is not a key of publisher acme-labs")
    client = publisher["client"]
    revoke = client.post(f"/api/v1/marketplace/publishers/acme-labs/keys/{publisher['key_id']}/revoke",
                         {"reason": "leaked"}, format="json")  # fmt: skip
    assert revoke.json()["status"] == "revoked"


def test_a_revoked_key_signs_nothing(publisher, signing_key, echo_package):
    publisher["client"].post(f"/api/v1/marketplace/publishers/acme-labs/keys/{publisher['key_id']}/revoke",
                             {"reason": "leaked"}, format="json")  # fmt: skip
    response = upload(publisher["client"], publisher["slug"], echo_package,
                      signature=packages.sign(signing_key, echo_package), key_id=publisher["key_id"])  # fmt: skip
    refused(response, "is revoked")


def signed_upload(publisher, signing_key, data):
    return upload(publisher["client"], publisher["slug"], data, signature=packages.sign(signing_key, data),
                  key_id=publisher["key_id"])  # fmt: skip


def zip_of(entries):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for info, content in entries:
            archive.writestr(info, content)
    return buffer.getvalue()


def test_a_zip_bomb_is_refused(publisher, signing_key):
    bomb = zip_of([("manifest.json", "{}"), ("plugin.wasm", b"\0" * (40 * 1024 * 1024))])
    refused(signed_upload(publisher, signing_key, bomb), "zip bomb")


def test_path_traversal_is_refused(publisher, signing_key):
    data = zip_of([("manifest.json", "{}"), ("plugin.wasm", b"x"), ("../../etc/cron.d/evil", b"x")])
    refused(signed_upload(publisher, signing_key, data), "path traversal")


def test_symlinks_are_refused(publisher, signing_key):
    link = zipfile.ZipInfo("src/link.py")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    data = zip_of([("manifest.json", "{}"), ("plugin.wasm", b"x"), (link, "/etc/passwd")])
    refused(signed_upload(publisher, signing_key, data), "symbolic link")


def test_an_invalid_manifest_is_refused_with_the_reasons(publisher, signing_key, echo_package):
    read = packages.package_read(echo_package)
    manifest = json.loads(read.manifest)
    manifest.update(id="Not Reverse DNS", capabilities=["messages.post", "root.shell"])
    data = packages.package_build(manifest=json.dumps(manifest).encode(), wasm=read.wasm, sources={})
    response = signed_upload(publisher, signing_key, data)
    assert response.status_code == 400
    message = response.json()["errors"]["package"][0]
    assert "id: 'Not Reverse DNS' does not match" in message and "'root.shell' is not one of" in message


def test_the_scan_rejects_imports_beyond_the_manifest(publisher, signing_key, rogue_package,
                                                      django_capture_on_commit_callbacks, eager):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_upload(publisher, signing_key, rogue_package)
    version = PluginVersion.objects.get(pk=response.json()["id"])
    assert version.status == "rejected"
    assert any("chatapp:plugin/members@1.0.0, reaching members.read" in f for f in version.scan_report["findings"])


# --- the sandbox's limits (the rogue plugin, installable only in development mode) -----------------------


@pytest.fixture
def rogue(acme, client_for, publisher, rogue_package, settings, django_capture_on_commit_callbacks, eager):
    settings.PLUGIN_DEV_MODE = True
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(publisher["client"], publisher["slug"], rogue_package)  # unsigned: development mode
    assert response.status_code == 201, response.json()
    version = PluginVersion.objects.get(pk=response.json()["id"])
    assert version.status == "scanned" and version.unsigned_dev and version.scan_report["findings"]
    response = install(client_for(acme.admin), "acme", ROGUE, ROGUE_CAPS, channel_ids=[acme.public.pk])
    assert response.status_code == 201, response.json()
    return Installation.objects.get(plugin__plugin_id=ROGUE)


def deliver_text(installation, channel, text):
    from plugins.runtime import DeliveryFailed, deliver

    try:
        return deliver(installation, kind="event", name="message.posted", payload={"channel_id": channel.pk,
                                                                                   "body": text})  # fmt: skip
    except DeliveryFailed as exc:
        return exc


def test_undeclared_capability_is_stopped_and_audited(acme, rogue):
    failure = deliver_text(rogue, acme.public, "members")
    assert failure.kind == "error" and "does not declare the members.read" in str(failure)
    denied = AuditEvent.objects.get(event_name="plugin.api_denied")
    assert (denied.actor_label, denied.target_id) == ("plugin:com.example.rogue@1.0.0", "list_members")


def test_request_to_an_undeclared_host_is_stopped_and_audited(acme, rogue):
    failure = deliver_text(rogue, acme.public, "http https://169.254.169.254/latest/meta-data")
    assert "not among the domains the manifest declares" in str(failure)
    denied = AuditEvent.objects.get(event_name="plugin.api_denied")
    assert denied.target_id == "http_request" and denied.metadata["capability"] == "http.outbound"


def test_endless_loop_is_stopped(acme, rogue, settings):
    settings.PLUGIN_FUEL = 50_000_000
    failure = deliver_text(rogue, acme.public, "loop")
    assert failure.kind in {"fuel", "timeout"}
    failed = AuditEvent.objects.get(event_name="plugin.failed")
    assert failed.metadata["reason"] == failure.kind and failed.outcome == "failure"


def test_memory_bomb_is_stopped(acme, rogue, settings):
    settings.PLUGIN_MEMORY_BYTES = 64 * 1024 * 1024
    failure = deliver_text(rogue, acme.public, "alloc")
    assert failure.kind in {"memory", "trap"}, failure
    assert AuditEvent.objects.get(event_name="plugin.failed").metadata["reason"] == failure.kind


def test_repeated_failures_disable_the_sandboxed_plugin(acme, rogue, settings, client_for):
    settings.PLUGIN_FAILURE_LIMIT = 2
    settings.PLUGIN_FUEL = 20_000_000
    deliver_text(rogue, acme.public, "loop")
    deliver_text(rogue, acme.public, "members")
    detail = client_for(acme.admin).get(f"/api/v1/orgs/acme/plugins/{ROGUE}/").json()
    assert detail["enabled"] is False and "2 failures" in detail["disabled_reason"]
    # a working call after the failures: the plugin is disabled, so nothing runs
    assert deliver_text(rogue, acme.public, "hello").kind == "disabled"
    assert not Message.objects.filter(body__startswith="rogue saw").exists()


def test_a_fresh_sandbox_per_event_works_after_a_trap(acme, rogue, settings):
    settings.PLUGIN_FUEL = 20_000_000
    deliver_text(rogue, acme.public, "loop")
    settings.PLUGIN_FUEL = 200_000_000
    rogue.refresh_from_db()
    assert not isinstance(deliver_text(rogue, acme.public, "hello"), Exception)
    assert Message.objects.filter(body="rogue saw: hello").count() == 1


# --- publishers, keys, feedback ---------------------------------------------------------------------------


def test_another_orgs_publisher_is_a_404(globex, client_for, publisher):
    client = client_for(globex.admin)
    assert client.get("/api/v1/marketplace/publishers/acme-labs/").status_code == 404
    response = client.post("/api/v1/marketplace/publishers/acme-labs/keys/", {"public_key": "x"}, format="json")
    assert response.status_code == 404
    assert client.get("/api/v1/marketplace/publishers/acme-labs/packages/").status_code == 404


def test_key_rotation_retires_the_old_key(publisher, signing_key, echo_package):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    new = Ed25519PrivateKey.generate()
    body = {"public_key": public_b64(new), "retire_others": True}
    response = publisher["client"].post("/api/v1/marketplace/publishers/acme-labs/keys/", body, format="json")
    assert response.status_code == 201
    keys = {k["key_id"]: k["status"] for k in publisher["client"].get(
        "/api/v1/marketplace/publishers/acme-labs/").json()["keys"]}  # fmt: skip
    assert keys[publisher["key_id"]] == "retired" and keys[response.json()["key_id"]] == "active"
    refused(signed_upload(publisher, signing_key, echo_package), "is retired")
    response = upload(publisher["client"], "acme-labs", echo_package, signature=packages.sign(new, echo_package),
                      key_id=response.json()["key_id"])  # fmt: skip
    assert response.status_code == 201


def test_not_a_public_key_is_a_clear_400(publisher):
    response = publisher["client"].post("/api/v1/marketplace/publishers/acme-labs/keys/",
                                        {"public_key": "bm90IGEga2V5"}, format="json")  # fmt: skip
    assert response.status_code == 400
    assert response.json()["errors"]["public_key"] == ["Not a base64 Ed25519 public key (32 raw bytes)."]


def test_private_plugin_is_visible_only_to_its_org_and_approved_by_another_manager(
    acme, globex, client_for, publisher, signing_key, echo_package, django_capture_on_commit_callbacks, eager
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(publisher["client"], "acme-labs", echo_package, private=True,
                          signature=packages.sign(signing_key, echo_package), key_id=publisher["key_id"])  # fmt: skip
    version_id = response.json()["id"]
    # the uploader (acme.admin) may not review it; the owner (plugins.manage, not the uploader) may
    assert client_for(acme.admin).post(f"/api/v1/marketplace/review-queue/{version_id}/start").status_code == 403
    owner = client_for(acme.owner)
    assert owner.post(f"/api/v1/marketplace/review-queue/{version_id}/start").status_code == 200
    assert owner.post(f"/api/v1/marketplace/review-queue/{version_id}/approve").json()["status"] == "approved"
    assert client_for(globex.admin).get(f"/api/v1/marketplace/plugins/{ECHO}/").status_code == 404
    assert install(client_for(globex.admin), "globex", ECHO, ECHO_CAPS).status_code == 400
    assert install(client_for(acme.admin), "acme", ECHO, ECHO_CAPS).status_code == 201


def test_reviews_and_abuse_reports(acme, client_for, publish, echo_package):
    publish(echo_package)
    admin = client_for(acme.admin)
    assert admin.post(f"/api/v1/orgs/acme/plugins/listings/{ECHO}/reviews", {"rating": 4, "text": "good"},
                      format="json").status_code == 201  # fmt: skip
    assert client_for(acme.member).post(f"/api/v1/orgs/acme/plugins/listings/{ECHO}/reviews", {"rating": 1},
                                        format="json").status_code == 403  # fmt: skip
    listing = admin.get(f"/api/v1/marketplace/plugins/{ECHO}/").json()
    assert (listing["rating"], listing["review_count"]) == (4.0, 1)
    assert client_for(acme.member).post(f"/api/v1/orgs/acme/plugins/listings/{ECHO}/report", {"reason": "spam"},
                                        format="json").status_code == 201  # fmt: skip
    assert AuditEvent.objects.filter(event_name="plugin.listing_reported").count() == 1
