"""Organization export and import: round trip, refusals that write nothing, secrets kept out, the API's jobs."""

import io
import tarfile
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from accounts.models import (
    ApiKey,
    IdentityProvider,
    ImportedAuditEvent,
    Membership,
    Organization,
    OrgExport,
    OrgImport,
    User,
)
from accounts.services import api_key_create
from accounts.services.portability import (
    ArchiveRefused,
    org_archive_write,
    org_export_request,
    org_export_run,
    org_import,
)
from accounts.services.portability.registry import exportable_by_key
from audit.selectors import audit_verify
from chatapp.chat.models import Channel, ChannelMember, LegalHold, Message, MessageRetentionPolicy
from rbac.models import Grant, Role, Team, TeamMember
from tests.factories import MessageFactory, UserFactory

pytestmark = pytest.mark.django_db

IDP_SECRET = "oidc-client-secret-DO-NOT-EXPORT-4f9a"


@pytest.fixture
def rich(acme):
    """acme with something of every exported kind: teams in a tree, custom role, grants, history, secrets."""
    org = acme.org
    parent = Team.objects.create(organization=org, name="Engineering")
    child = Team.objects.create(organization=org, name="Backend", parent=parent)
    TeamMember.objects.create(organization=org, team=child, user=acme.member, is_maintainer=True)
    role = Role.objects.create(organization=org, name="Moderators", permissions=["messages.delete_any"])
    Grant.objects.create(organization=org, role=role, team=parent, created_by=acme.owner)
    Grant.objects.create(
        organization=org, role=role, user=acme.member, resource_type="chat.channel", resource_id=acme.public.pk
    )
    MessageFactory(channel=acme.public, author=acme.member, body="hello from acme")
    MessageFactory(channel=acme.public, author=acme.owner, body="second", deleted=timezone.now())
    MessageFactory(channel=acme.private, author=acme.owner, body="")  # an erased body stays importable
    MessageRetentionPolicy.objects.create(organization=org, enabled=True, days=400, updated_by=acme.owner)
    LegalHold.objects.create(organization=org, channel=acme.private, reason="Case 2026-14", created_by=acme.owner)
    IdentityProvider.objects.create(
        organization=org, kind="oidc", slug="okta", name="Okta", email_domains=["acme.test"],
        config={"issuer": "https://okta.example"}, secrets={"client_secret": IDP_SECRET},
    )  # fmt: skip
    org.mfa_policy = "admins"
    org.save()
    return acme


def _export(org, tmp_path, name="export.tar.gz", **options) -> Path:
    path = tmp_path / name
    org_archive_write(org=org, destination=path, **options)
    return path


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {member.name: tar.extractfile(member).read() for member in tar}


def _normalized(path: Path) -> dict:
    """The archive's content with ids replaced by each row's position in its file (ids differ between instances)."""
    members = _members(path)
    entries = exportable_by_key()
    data = {
        name: [orjson.loads(line) for line in raw.splitlines()]
        for name, raw in members.items()
        if name != "manifest.json"
    }
    position = {entries_key: {} for entries_key in entries}
    for name, rows in data.items():
        key = name.removeprefix("data/").removesuffix(".jsonl")
        position[key] = {row["id"]: index for index, row in enumerate(sorted(rows, key=lambda r: r["id"]))}
    result = {}
    for name, rows in data.items():
        key = name.removeprefix("data/").removesuffix(".jsonl")
        entry = entries[key]
        out = []
        for row in sorted(rows, key=lambda r: r["id"]):
            row = dict(row, id=position[key][row["id"]])
            for ref, target in entry.refs.items():
                if row[ref] is not None:
                    row[ref] = position[target][row[ref]]
            for id_field, type_field in entry.resource_refs.items():
                if row[id_field] is not None:
                    row[id_field] = position[row[type_field]][row[id_field]]
            if key == "accounts.identityprovider":
                row["enabled"] = False  # imported disabled, by design (their secrets stay behind)
            out.append(row)
        result[key] = out
    return result


def _scan_text(path: Path) -> bytes:
    return b"\n".join(_members(path).values())


# --- round trip ---------------------------------------------------------------------------------------------


def _round_trip(rich, tmp_path):
    first = _export(rich.org, tmp_path, "first.tar.gz")
    users_before = User.objects.count()
    job = org_import(archive=first, org_slug="acme-copy")
    copy = Organization.objects.get(slug="acme-copy")
    second = _export(copy, tmp_path, "second.tar.gz")
    assert _normalized(first) == _normalized(second)
    # People are matched by e-mail: a membership in the copy, never a second account.
    assert User.objects.count() == users_before
    assert job.matched["accounts.user"] == Membership.objects.filter(organization=rich.org).count()
    assert set(Membership.objects.filter(organization=copy).values_list("user__email", "role")) == set(
        Membership.objects.filter(organization=rich.org).values_list("user__email", "role")
    )
    # References point inside the copy.
    child = Team.objects.get(organization=copy, name="Backend")
    assert child.parent.organization_id == copy.pk and child.parent.name == "Engineering"
    resource_grant = Grant.objects.get(organization=copy, resource_id__isnull=False)
    assert Channel.objects.get(pk=resource_grant.resource_id).organization_id == copy.pk
    assert set(Message.objects.filter(organization=copy).values_list("channel__organization", flat=True)) == {copy.pk}
    assert copy.name == "Acme" and copy.mfa_policy == "admins"
    provider = IdentityProvider.objects.get(organization=copy)
    assert provider.enabled is False and provider.secrets == {}
    return job, first


def test_export_import_export_gives_the_same_content(rich, tmp_path):
    job, _ = _round_trip(rich, tmp_path)
    assert job.status == "done"
    assert job.counts["chat.message"] == 3
    assert audit_verify(org=job.organization).ok


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the same round trip on PostgreSQL (CI)")
def test_round_trip_on_postgresql(rich, tmp_path):
    _round_trip(rich, tmp_path)


def test_import_is_safe_to_rerun_and_refuses_a_non_empty_target(rich, tmp_path):
    job, archive = _round_trip(rich, tmp_path)
    messages = Message.objects.count()
    again = org_import(archive=archive, org_slug="acme-copy")
    assert again.pk == job.pk and Message.objects.count() == messages
    # Another archive into the same (now full) organization is refused, and says why.
    other = _export(rich.org, tmp_path, "other.tar.gz", include_audit=True)
    with pytest.raises(ArchiveRefused, match="not empty"):
        org_import(archive=other, org_slug="acme-copy")
    assert Message.objects.count() == messages


def test_audit_events_come_as_a_separate_historical_record(rich, tmp_path):
    from audit.models import AuditEvent

    archive = _export(rich.org, tmp_path, include_audit=True)
    source_events = AuditEvent.objects.filter(chain=rich.org.pk).count()
    job = org_import(archive=archive, org_slug="acme-history")
    copy = job.organization
    assert ImportedAuditEvent.objects.filter(organization=copy).count() == source_events
    # The target's own chain holds only its own events (creation, the import) and still verifies.
    assert set(AuditEvent.objects.filter(chain=copy.pk).values_list("event_name", flat=True)) == {
        "org.created", "org.imported",
    }  # fmt: skip
    assert audit_verify(org=copy).ok


# --- refusals: nothing written ------------------------------------------------------------------------------


def _snapshot():
    return (
        Organization.objects.count(), User.objects.count(), Membership.objects.count(), Channel.objects.count(),
        ChannelMember.objects.count(), Message.objects.count(), Team.objects.count(), Role.objects.count(),
        OrgImport.objects.count(),
    )  # fmt: skip


def _rewrite(source: Path, destination: Path, change) -> Path:
    """Repack an archive after `change(members)` edits its {name: bytes}."""
    members = _members(source)
    change(members)
    with tarfile.open(destination, "w:gz") as tar:
        for name, raw in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return destination


def _manifest_edit(edit):
    def change(members):
        manifest = orjson.loads(members["manifest.json"])
        edit(manifest, members)
        members["manifest.json"] = orjson.dumps(manifest)

    return change


def _tamper_body(members):
    members["data/chat.message.jsonl"] = members["data/chat.message.jsonl"].replace(b"hello", b"HELLO")


def _bad_row_with_good_checksums(manifest, members):
    # Checksums match, but the last file imported holds a row that does not fit: the channels, members and
    # users already created in the transaction must all be rolled back.
    import hashlib

    name = "data/rbac.grant.jsonl"
    members[name] += b'{"id": 999, "unexpected": true}\n'
    manifest["files"][name].update(
        rows=manifest["files"][name]["rows"] + 1, bytes=len(members[name]),
        sha256=hashlib.sha256(members[name]).hexdigest(),
    )  # fmt: skip


CORRUPTIONS = {
    "bad checksum": (lambda members: _tamper_body(members), "checksum mismatch"),
    "wrong version": (_manifest_edit(lambda m, _: m.update(format_version=99)), "format version 99"),
    "path traversal": (
        lambda members: members.update({"data/../../../tmp/evil.jsonl": b"{}\n"}),
        "name the format does not allow",
    ),
    "unknown model": (
        _manifest_edit(
            lambda m, members: (
                members.update({"data/plugins.secret.jsonl": b""}),
                m["files"].update(
                    {
                        "data/plugins.secret.jsonl": {
                            "entry": "plugins.secret",
                            "rows": 0,
                            "bytes": 0,
                            "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                        }
                    }
                ),
            )
        ),
        "does not know",
    ),
    "row that does not fit": (_manifest_edit(_bad_row_with_good_checksums), "unexpected fields"),
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_a_corrupted_archive_is_refused_with_nothing_written(rich, tmp_path, corruption):
    change, reason = CORRUPTIONS[corruption]
    archive = _rewrite(_export(rich.org, tmp_path), tmp_path / "bad.tar.gz", change)
    before = _snapshot()
    with pytest.raises(CommandError, match=reason):
        call_command("import_org", str(archive), "--org", "acme-copy")
    assert _snapshot() == before
    assert not Organization.objects.filter(slug="acme-copy").exists()


def test_a_truncated_or_foreign_archive_is_refused(rich, tmp_path):
    archive = _export(rich.org, tmp_path)
    raw = archive.read_bytes()
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(raw[: len(raw) // 2])
    not_gzip = tmp_path / "notes.tar.gz"
    not_gzip.write_bytes(b"just some text")
    link = tmp_path / "link.tar.gz"
    with tarfile.open(link, "w:gz") as tar:
        manifest = _members(archive)["manifest.json"]
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
        symlink = tarfile.TarInfo("data/chat.message.jsonl")
        symlink.type, symlink.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(symlink)
    before = _snapshot()
    for path, reason in ((truncated, "not a complete tar.gz"), (not_gzip, "not a complete tar.gz"),
                         (link, "not a regular file")):  # fmt: skip
        with pytest.raises(ArchiveRefused, match=reason):
            org_import(archive=path, org_slug="acme-copy")
    assert _snapshot() == before


def test_only_the_operator_imports(rich, tmp_path):
    from django.core.exceptions import PermissionDenied

    archive = _export(rich.org, tmp_path)
    with pytest.raises(PermissionDenied):
        org_import(archive=archive, org_slug="acme-copy", actor=rich.owner)
    assert not Organization.objects.filter(slug="acme-copy").exists()


# --- secrets ------------------------------------------------------------------------------------------------


def test_secrets_never_reach_the_archive(rich, tmp_path):
    created = api_key_create(actor=rich.owner, org=rich.org, name="ci", scopes=["channels.view"])
    key = ApiKey.objects.get(pk=created.key.pk)
    owner = User.objects.get(pk=rich.owner.pk)
    data = _scan_text(_export(rich.org, tmp_path, include_audit=True))
    assert IDP_SECRET.encode() not in data
    assert created.secret.encode() not in data
    assert key.digest.encode() not in data
    assert owner.password.encode() not in data and b'"password"' not in data
    assert b"is_superuser" not in data
    # Full-migration mode (the operator's) carries the password hashes, and still no other secret.
    full = _scan_text(_export(rich.org, tmp_path, "full.tar.gz", full_migration=True))
    assert owner.password.encode() in full
    assert IDP_SECRET.encode() not in full and created.secret.encode() not in full


def test_full_migration_passwords_survive_the_move(rich, tmp_path):
    archive = _export(rich.org, tmp_path, full_migration=True)
    mover = UserFactory(email="mover@elsewhere.test")
    Membership.objects.create(organization=rich.org, user=mover)
    archive = _export(rich.org, tmp_path, "mover.tar.gz", full_migration=True)
    hashed = User.objects.get(pk=mover.pk).password
    mover.delete()  # as on another instance: the person does not exist there yet
    org_import(archive=archive, org_slug="acme-moved")
    assert User.objects.get(email="mover@elsewhere.test").password == hashed


def test_without_full_migration_new_accounts_have_no_usable_password(rich, tmp_path):
    mover = UserFactory(email="newcomer@elsewhere.test")
    Membership.objects.create(organization=rich.org, user=mover)
    archive = _export(rich.org, tmp_path)
    mover.delete()
    org_import(archive=archive, org_slug="acme-moved")
    assert not User.objects.get(email="newcomer@elsewhere.test").has_usable_password()


def test_full_migration_is_for_the_operator_only(rich):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        org_export_request(actor=rich.owner, org=rich.org, full_migration=True)
    assert not OrgExport.objects.exists()


# --- commands ------------------------------------------------------------------------------------------------


def test_export_and_import_commands(rich, tmp_path, settings):
    settings.PORTABILITY_EXPORT_DIR = tmp_path / "exports"
    out = io.StringIO()
    call_command("export_org", "acme", "--output", str(tmp_path / "acme.tar.gz"), stdout=out)
    assert "chat.message: 3" in out.getvalue()
    job = OrgExport.objects.get()
    assert job.status == "done" and job.requested_by is None and job.rows_done == job.rows_total > 0
    out = io.StringIO()
    call_command("import_org", str(tmp_path / "acme.tar.gz"), "--org", "acme-two", stdout=out)
    assert "chat.message: 3 created" in out.getvalue()
    assert "imported disabled" in out.getvalue()
    with pytest.raises(CommandError, match="No organization"):
        call_command("export_org", "nobody")


# --- the API ------------------------------------------------------------------------------------------------


def _url(org, suffix=""):
    return f"/api/v1/orgs/{org.slug}/exports{suffix}"


def test_owner_exports_follows_progress_and_downloads(rich, verified_client_for, tmp_path, settings,
                                                       django_capture_on_commit_callbacks):  # fmt: skip
    settings.PORTABILITY_EXPORT_DIR = tmp_path
    client = verified_client_for(rich.owner)
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(_url(rich.org), {"include_audit": True}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued" and len(queued) == 1  # the Celery task, after commit
    export_id = response.json()["id"]
    # A second request while one is queued is a conflict, not a second job.
    assert client.post(_url(rich.org), {}, format="json").status_code == 409

    org_export_run(export_id=export_id)  # what the worker does
    body = client.get(_url(rich.org, f"/{export_id}")).json()
    assert body["status"] == "done" and body["rows_done"] == body["rows_total"] > 0 and body["progress"] == 1.0
    assert body["counts"]["chat.message"] == 3 and body["download_url"].endswith("/download")
    download = client.get(_url(rich.org, f"/{export_id}/download"))
    assert download.status_code == 200
    raw = b"".join(download.streaming_content)
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
        assert tar.getnames()[0] == "manifest.json" and "data/chat.message.jsonl" in tar.getnames()
    from audit.models import AuditEvent

    assert AuditEvent.objects.filter(chain=rich.org.pk, event_name="org.export_downloaded").count() == 1


def test_progress_is_visible_while_running(rich, verified_client_for):
    from accounts.services.portability.export import Progress

    job = org_export_request(actor=rich.owner, org=rich.org, queue=False)
    OrgExport.objects.filter(pk=job.pk).update(status="running", rows_total=1000)
    progress = Progress(job)
    progress.start("chat.message")
    progress.add(250)
    progress._save()
    body = verified_client_for(rich.owner).get(_url(rich.org, f"/{job.pk}")).json()
    assert (body["status"], body["current_model"], body["rows_done"], body["progress"]) == (
        "running", "chat.message", 250, 0.25,
    )  # fmt: skip
    assert body["download_url"] is None


def test_exports_need_org_export_and_step_up(rich, client_for, verified_client_for):
    for user in (rich.admin, rich.member, rich.auditor):
        assert verified_client_for(user).post(_url(rich.org), {}, format="json").status_code == 403
        assert verified_client_for(user).get(_url(rich.org)).status_code == 403
    # Without a recent verification (a session that did not just pass its check): refused, nothing queued.
    response = client_for(rich.owner).post(_url(rich.org), {}, format="json")
    assert response.status_code == 403 and response.json()["type"].endswith("step-up-required")
    assert not OrgExport.objects.exists()


def test_bad_input_is_a_clear_400(rich, verified_client_for):
    client = verified_client_for(rich.owner)
    response = client.post(_url(rich.org), {"kind": "everything"}, format="json")
    assert response.status_code == 400 and "kind" in response.json()["errors"]
    response = client.post(_url(rich.org), {"kind": "full", "format": "csv"}, format="json")
    assert response.status_code == 400 and "format" in response.json()["errors"]
    response = client.post(_url(rich.org), {"full_migration": True}, format="json")
    assert response.status_code == 400 and "full_migration" in response.json()["errors"]
    assert not OrgExport.objects.exists()


def test_another_organizations_exports_are_404(rich, globex, verified_client_for, tmp_path, settings):
    settings.PORTABILITY_EXPORT_DIR = tmp_path
    job = org_export_request(actor=rich.owner, org=rich.org, queue=False)
    org_export_run(export_id=job.pk)
    stranger = verified_client_for(globex.owner)
    # Through globex's own routes, acme's export does not exist; acme's routes do not exist for globex's owner.
    for suffix in (f"/{job.pk}", f"/{job.pk}/download"):
        assert stranger.get(_url(globex.org, suffix)).status_code == 404
        assert stranger.get(_url(rich.org, suffix)).status_code == 404
    assert stranger.get(_url(rich.org)).status_code == 404
    assert stranger.post(_url(rich.org), {}, format="json").status_code == 404
    assert stranger.get(_url(globex.org)).json()["results"] == []


def test_list_query_count_does_not_grow(rich, verified_client_for, django_assert_max_num_queries):
    for _ in range(5):
        OrgExport.objects.create(organization=rich.org, requested_by=rich.owner, status="done")
    client = verified_client_for(rich.owner)
    client.get(_url(rich.org))
    with django_assert_max_num_queries(12):
        response = client.get(_url(rich.org))
    assert len(response.json()["results"]) == 5


def test_expired_exports_are_deleted(rich, verified_client_for, tmp_path, settings):
    from accounts.tasks import org_exports_expire_task

    settings.PORTABILITY_EXPORT_DIR = tmp_path
    settings.PORTABILITY_EXPORT_TTL_DAYS = 3
    job = org_export_run(export_id=org_export_request(actor=rich.owner, org=rich.org, queue=False).pk)
    path = tmp_path / job.file_name
    assert path.is_file()
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert org_exports_expire_task() == 0
    assert path.is_file()
    with time_machine.travel(timezone.now() + timedelta(days=3, minutes=1)):
        assert org_exports_expire_task() == 1
        assert org_exports_expire_task() == 0  # safe to run twice
    assert not path.exists()
    job.refresh_from_db()
    assert job.status == "expired"
    response = verified_client_for(rich.owner).get(_url(rich.org, f"/{job.pk}/download"))
    assert response.status_code == 409


# --- the admin ----------------------------------------------------------------------------------------------


@pytest.fixture
def operator(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def test_admin_queues_an_export_shows_progress_and_serves_the_file(rich, operator, tmp_path, settings,
                                                                   django_capture_on_commit_callbacks):  # fmt: skip
    settings.PORTABILITY_EXPORT_DIR = tmp_path
    with django_capture_on_commit_callbacks() as queued:
        response = operator.post(
            "/admin/accounts/orgexport/add/",
            {"organization": rich.org.pk, "kind": "full", "format": "jsonl", "include_audit": "on"},
        )
    assert response.status_code == 302, response.content
    assert len(queued) == 1
    job = OrgExport.objects.get()
    assert job.include_audit and job.status == "queued"
    org_export_run(export_id=job.pk)
    page = operator.get("/admin/accounts/orgexport/").content.decode()
    assert "<progress" in page and "download" in page
    download = operator.get(f"/admin/accounts/orgexport/{job.pk}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/gzip"
    assert operator.get(f"/admin/accounts/orgexport/{job.pk}/change/").status_code == 200


def test_admin_lists_imports_and_historical_events(rich, operator, tmp_path):
    org_import(archive=_export(rich.org, tmp_path, include_audit=True), org_slug="acme-copy")
    for page in ("/admin/accounts/orgimport/", "/admin/accounts/importedauditevent/"):
        assert operator.get(page).status_code == 200
    assert operator.get("/admin/accounts/orgimport/add/").status_code == 403


def test_erasure_seam_redacts_imported_history(rich, tmp_path):
    from django.db import transaction

    from accounts.services.portability.imports import imported_audit_events_redact
    from audit.services import audit_record

    with transaction.atomic():
        audit_record(org=rich.org, event="member.updated", actor=rich.owner, target=rich.member)
    archive = _export(rich.org, tmp_path, include_audit=True)
    job = org_import(archive=archive, org_slug="acme-history")
    email = rich.owner.email
    assert ImportedAuditEvent.objects.filter(organization=job.organization, record__actor_label=email).exists()
    changed = imported_audit_events_redact(user_id=rich.owner.pk, terms=[email], pseudonym="erased-user-1@x.invalid")
    assert changed > 0
    for event in ImportedAuditEvent.objects.filter(organization=job.organization):
        assert email not in orjson.dumps(event.record).decode()


def test_erasing_a_person_redacts_their_imported_history(rich, tmp_path):
    from django.db import transaction

    from accounts.services.privacy import user_erase
    from audit.services import audit_record

    with transaction.atomic():
        audit_record(org=rich.org, event="member.updated", actor=rich.member, target=rich.owner)
    job = org_import(archive=_export(rich.org, tmp_path, include_audit=True), org_slug="acme-history")
    email, name = rich.member.email, rich.member.full_name
    assert ImportedAuditEvent.objects.filter(organization=job.organization, record__actor_label=email).exists()
    with transaction.atomic():
        done = user_erase(user=rich.member)
    assert done["imported_audit_events_redacted"] > 0
    for event in ImportedAuditEvent.objects.all():
        text = orjson.dumps(event.record).decode()
        assert email not in text and (not name or name not in text)


def test_encrypted_fields_travel_as_plaintext_and_are_encrypted_again(rich, tmp_path):
    """The mechanism an encrypted message body would use: decrypted on export, encrypted under the target's keys
    (and bound to the new row) on import. Shown with the one encrypted column on main, a provider's secrets, in
    an entry made for the test (the declared entry rightly refuses to export them)."""
    from accounts.services.portability.archive import CheckedArchive
    from accounts.services.portability.export import entry_lines
    from accounts.services.portability.imports import ImportContext, _import_entry
    from accounts.services.portability.registry import Exportable

    entry = Exportable("accounts.IdentityProvider", fields=("kind", "slug", "name", "secrets"))
    lines = list(entry_lines(entry, rich.org))
    assert orjson.loads(lines[0])["secrets"] == {"client_secret": IDP_SECRET}
    path = tmp_path / "providers.jsonl"
    path.write_bytes(b"".join(lines))
    target = Organization.objects.create(slug="target", name="Target")
    context = ImportContext(org=target, job=None)
    _import_entry(context, entry, CheckedArchive(manifest={}, paths={"providers": path}), "providers", keep_ids=False)
    copy = IdentityProvider.objects.get(organization=target)
    assert copy.secrets == {"client_secret": IDP_SECRET}
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM accounts_identityprovider WHERE organization_id = %s", [target.pk])
        stored = cursor.fetchone()[0]
    assert stored.startswith("v1:") and IDP_SECRET not in stored


def test_a_failed_import_into_an_existing_organization_leaves_only_its_record(rich, tmp_path):
    target = Organization.objects.create(slug="prepared", name="Prepared")
    change, _ = CORRUPTIONS["row that does not fit"]
    archive = _rewrite(_export(rich.org, tmp_path), tmp_path / "bad.tar.gz", change)
    with pytest.raises(ArchiveRefused, match="unexpected fields"):
        org_import(archive=archive, org_slug="prepared")
    record = OrgImport.objects.get(organization=target)
    assert record.status == "failed" and "unexpected fields" in record.error
    assert not Channel.objects.filter(organization=target).exists()
    assert not Membership.objects.filter(organization=target).exists()
    target.refresh_from_db()
    assert target.name == "Prepared"  # the settings were rolled back too


def test_timestamps_are_exact_utc_iso_8601(rich, tmp_path):
    from datetime import datetime

    members = _members(_export(rich.org, tmp_path))
    rows = [orjson.loads(line) for line in members["data/chat.message.jsonl"].splitlines()]
    stored = dict(Message.objects.filter(organization=rich.org).values_list("pk", "created"))
    assert len(rows) == len(stored) == 3
    for row in rows:
        assert row["created"].endswith("+00:00")
        assert datetime.fromisoformat(row["created"]) == stored[row["id"]]  # to the microsecond


def test_registry_orders_dependencies_first_and_refuses_secrets_and_late_entries():
    from accounts.services.portability.registry import exportable, exportables
    from chatapp.kernel.registry import RegistryError

    seen = set()
    for entry in exportables():
        assert entry.dependencies() <= seen, entry.key
        seen.add(entry.key)
    assert {"accounts.user", "chat.message", "rbac.grant", "audit.auditevent"} <= seen
    assert "accounts.apikey" not in seen and "accounts.webauthndevice" not in seen
    with pytest.raises(RegistryError, match="cannot be exported"):
        exportable("accounts.IdentityProvider", fields=("slug", "secrets"), secrets=("secrets",))
    with pytest.raises(RegistryError, match="after start-up"):
        exportable("accounts.ApiKey", fields=("name",))
