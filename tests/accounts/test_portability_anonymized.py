"""Anonymized datasets: keyed hashes instead of identifiers, no free text, truncated IP addresses."""

import csv
import io
import tarfile

import orjson
import pytest
from django.core.management import call_command
from django.db import connection, transaction

from accounts.models import AnonymizationSalt, OrgExport
from accounts.services.portability import org_export_request, org_export_run
from accounts.services.portability.anonymize import truncate_ip
from audit import context
from audit.services import audit_record
from tests.factories import MessageFactory

pytestmark = pytest.mark.django_db

BODY = "the launch code is tangerine-42"


@pytest.fixture
def busy(acme):
    MessageFactory(channel=acme.public, author=acme.member, body=BODY)
    MessageFactory(channel=acme.private, author=acme.owner, body="quarterly numbers, do not share")
    with transaction.atomic():
        audit_record(
            org=acme.org, event="member.updated", actor=acme.owner, target=acme.member,
            request_context=context.RequestContext(ip="203.0.113.77", user_agent="Mozilla/5.0 Firefox"),
        )  # fmt: skip
        audit_record(
            org=acme.org, event="member.updated", actor=acme.owner, target=acme.member,
            request_context=context.RequestContext(ip="2001:db8:1234:5678::9"),
        )  # fmt: skip
    return acme


def _dataset(acme, tmp_path, settings, fmt, client=None) -> dict[str, bytes]:
    settings.PORTABILITY_EXPORT_DIR = tmp_path
    job = org_export_request(
        actor=acme.owner, org=acme.org, kind="anonymized", fmt=fmt, include_audit=True, queue=False
    )
    job = org_export_run(export_id=job.pk)
    assert job.status == "done", job.error
    if client is not None:
        response = client.get(f"/api/v1/orgs/{acme.org.slug}/exports/{job.pk}/download")
        raw = b"".join(response.streaming_content)
    else:
        raw = (tmp_path / job.file_name).read_bytes()
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
        return {member.name: tar.extractfile(member).read() for member in tar}


def _identifying(acme) -> list[bytes]:
    people = (acme.owner, acme.admin, acme.member, acme.guest, acme.auditor, acme.billing)
    terms = [person.email for person in people] + [person.full_name for person in people if person.full_name]
    terms += [person.email.split("@")[0] + "@" for person in people]
    terms += [BODY, "quarterly numbers", acme.public.name, acme.private.name, "Firefox", "203.0.113.77", "Acme"]
    return [term.encode() for term in terms]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_dataset_holds_no_identifier_and_no_free_text(busy, tmp_path, settings, verified_client_for, fmt):
    files = _dataset(busy, tmp_path, settings, fmt, client=verified_client_for(busy.owner))
    everything = b"\n".join(files.values())
    for term in _identifying(busy):
        assert term not in everything, term
    assert f"data/anonymized.messages.{fmt}" in files
    # ...while what analytics needs is there: who (pseudonymously) wrote how much where, and when.
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(files["data/anonymized.messages.csv"].decode())))
    else:
        rows = [orjson.loads(line) for line in files["data/anonymized.messages.jsonl"].splitlines()]
    assert len(rows) == 2 and {len(row["author"]) for row in rows} == {32}
    assert sorted(int(row["length"]) for row in rows) == sorted([len(BODY), len("quarterly numbers, do not share")])


def test_pseudonyms_are_keyed_stable_and_join_across_datasets(busy, globex, tmp_path, settings):
    first = _dataset(busy, tmp_path, settings, "jsonl")
    OrgExport.objects.all().delete()
    second = _dataset(busy, tmp_path, settings, "jsonl")
    members = [orjson.loads(line) for line in first["data/anonymized.members.jsonl"].splitlines()]
    messages = [orjson.loads(line) for line in first["data/anonymized.messages.jsonl"].splitlines()]
    assert {m["author"] for m in messages} <= {m["user"] for m in members}  # joins work within the organization
    assert first["data/anonymized.members.jsonl"] == second["data/anonymized.members.jsonl"]  # stable
    # The key is the organization's own, random, and stored encrypted: no column holds it in clear.
    salt = AnonymizationSalt.objects.get(organization=busy.org)
    with connection.cursor() as cursor:
        cursor.execute("SELECT salt FROM accounts_anonymizationsalt WHERE id = %s", [salt.pk])
        stored = cursor.fetchone()[0]
    assert salt.salt not in stored and stored.startswith("v1:")
    # A plain (unkeyed) hash of the id would be guessable: the pseudonym is not one.
    import hashlib

    assert hashlib.sha256(f"user:{busy.member.pk}".encode()).hexdigest()[:32] not in {m["user"] for m in members}


def test_ip_addresses_are_truncated(busy, tmp_path, settings):
    files = _dataset(busy, tmp_path, settings, "jsonl")
    events = [orjson.loads(line) for line in files["data/anonymized.audit_events.jsonl"].splitlines()]
    assert {"203.0.113.0/24", "2001:db8:1234::/48"} <= {event["ip_network"] for event in events}
    assert truncate_ip("192.0.2.200") == "192.0.2.0/24" and truncate_ip(None) is None


def test_command_writes_csv(busy, tmp_path, settings):
    settings.PORTABILITY_EXPORT_DIR = tmp_path / "exports"
    out = io.StringIO()
    call_command("export_anonymized", "acme", "--output", str(tmp_path / "acme.tar.gz"), stdout=out)
    with tarfile.open(tmp_path / "acme.tar.gz", "r:gz") as tar:
        names = tar.getnames()
    assert "data/anonymized.messages.csv" in names and "data/anonymized.audit_events.csv" not in names
    assert OrgExport.objects.get().kind == "anonymized"
