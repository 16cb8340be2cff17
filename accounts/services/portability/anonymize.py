"""Anonymized datasets for analytics: who did what and when, without anyone being identifiable.

- identifiers (users, channels, messages, actors and targets of audit events) become keyed hashes:
  HMAC-SHA256(organization salt, "<kind>:<id>"), 32 hex digits. The salt is random per organization and
  stored encrypted (AnonymizationSalt), so pseudonyms are stable across this organization's datasets (a join
  works) but cannot be joined with another organization's, or reversed without the salt;
- free text is dropped: names, e-mail addresses, topics, message bodies (their length stays), labels, user
  agents, changes and metadata;
- IP addresses are truncated to their /24 (IPv4) or /48 (IPv6) network.
"""

import csv
import hashlib
import hmac
import io
import ipaddress
import secrets
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.functions import Length

from accounts.models import AnonymizationSalt, Membership, Organization
from accounts.services.portability.archive import ArchiveWriter, workdir
from accounts.services.portability.export import CHUNK, Progress, encode, manifest_base
from audit.models import ActorType, AuditEvent
from chatapp.chat.models import Channel, ChannelMember, Message


def org_salt(org: Organization) -> bytes:
    """The organization's anonymization key, made on first use (32 random bytes, encrypted at rest)."""
    found = AnonymizationSalt.objects.filter(organization=org).first()
    if found is None:
        try:
            with transaction.atomic():
                found = AnonymizationSalt.objects.create(organization=org, salt=secrets.token_hex(32))
        except IntegrityError:  # made by a concurrent export meanwhile
            found = AnonymizationSalt.objects.get(organization=org)
    return bytes.fromhex(found.salt)


class Pseudonymizer:
    def __init__(self, salt: bytes):
        self._key = salt
        self._cache: dict[tuple[str, object], str] = {}

    def __call__(self, kind: str, value) -> str | None:
        if value is None or value == "":
            return None
        key = (kind, value)
        found = self._cache.get(key)
        if found is None:
            found = hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]
            if len(self._cache) < 200_000:  # users and channels repeat; message ids do not
                self._cache[key] = found
        return found


def truncate_ip(value: str | None) -> str | None:
    """192.0.2.77 -> 192.0.2.0/24; 2001:db8:1:2::1 -> 2001:db8:1::/48."""
    if not value:
        return None
    address = ipaddress.ip_address(value)
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _iso(value):
    return value.isoformat() if value is not None else None


def _datasets(org: Organization, p: Pseudonymizer, *, include_audit: bool):
    """(name, columns, row iterator) per dataset; every row is a tuple in column order."""
    yield (
        "members", ("user", "role", "is_active", "joined"),
        ((p("user", u), role, active, _iso(joined)) for u, role, active, joined in
         Membership.objects.filter(organization=org).order_by("pk")
         .values_list("user_id", "role", "is_active", "joined").iterator(chunk_size=CHUNK)),
    )  # fmt: skip
    yield (
        "channels", ("channel", "is_private", "is_archived", "created_by", "created"),
        ((p("channel", c), private, archived, p("user", by), _iso(created)) for c, private, archived, by, created in
         Channel.objects.for_org(org).order_by("pk")
         .values_list("pk", "is_private", "is_archived", "created_by_id", "created").iterator(chunk_size=CHUNK)),
    )  # fmt: skip
    yield (
        "channel_members", ("channel", "user", "added"),
        ((p("channel", c), p("user", u), _iso(added)) for c, u, added in
         ChannelMember.objects.for_org(org).order_by("pk")
         .values_list("channel_id", "user_id", "added").iterator(chunk_size=CHUNK)),
    )  # fmt: skip
    yield (
        "messages", ("message", "channel", "author", "created", "edited", "deleted", "length"),
        ((p("message", m), p("channel", c), p("user", a), _iso(created), _iso(edited), _iso(deleted), length)
         for m, c, a, created, edited, deleted, length in
         Message.objects.for_org(org).order_by("pk").annotate(length=Length("body"))
         .values_list("pk", "channel_id", "author_id", "created", "edited", "deleted", "length")
         .iterator(chunk_size=CHUNK)),
    )  # fmt: skip
    if include_audit:

        def subject(kind_type, ident):
            # Users are pseudonymized like everywhere else, so audit rows join the other datasets.
            if kind_type in (ActorType.USER, "accounts.user"):
                return p("user", ident)
            return p(kind_type or "none", ident)

        yield (
            "audit_events",
            ("occurred_at", "event_name", "category", "outcome", "actor_type", "actor", "target_type", "target",
             "ip_network"),
            ((_iso(at), name, category, outcome, actor_type, subject(actor_type, actor_id), target_type,
              subject(target_type, target_id), truncate_ip(ip))
             for at, name, category, outcome, actor_type, actor_id, target_type, target_id, ip in
             AuditEvent.objects.filter(chain=org.pk).order_by("pk")
             .values_list("occurred_at", "event_name", "category", "outcome", "actor_type", "actor_id",
                          "target_type", "target_id", "ip").iterator(chunk_size=CHUNK)),
        )  # fmt: skip


def _jsonl(columns, rows) -> Iterator[bytes]:
    for row in rows:
        yield encode(dict(zip(columns, row, strict=True)))


def _csv(columns, rows) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    # the header went out with the first row; an empty dataset still gets its header
    if buffer.tell():
        yield buffer.getvalue().encode()


def org_dataset_write(
    *, org: Organization, destination: Path, fmt: str = "jsonl", include_audit: bool = False,
    progress: Progress | None = None,
) -> dict:  # fmt: skip
    """Write the anonymized datasets (one file per dataset, CSV or JSON Lines) and their manifest."""
    p = Pseudonymizer(org_salt(org))
    datasets = list(_datasets(org, p, include_audit=include_audit))
    if progress is not None:
        progress.job.rows_total = (
            Membership.objects.filter(organization=org).count() + Channel.objects.for_org(org).count()
            + ChannelMember.objects.for_org(org).count() + Message.objects.for_org(org).count()
            + (AuditEvent.objects.filter(chain=org.pk).count() if include_audit else 0)
        )  # fmt: skip
        type(progress.job).objects.filter(pk=progress.job.pk).update(rows_total=progress.job.rows_total)
    with workdir() as directory:
        writer = ArchiveWriter(directory)
        for name, columns, rows in datasets:
            if progress is not None:
                progress.start(name)
            lines = _csv(columns, rows) if fmt == "csv" else _jsonl(columns, rows)
            writer.write_lines(
                f"data/anonymized.{name}.{fmt}", lines, entry=name,
                on_rows=progress.add if progress is not None else None,
            )  # fmt: skip
        manifest = manifest_base(
            org, kind="anonymized",
            options={"format": fmt, "include_audit": include_audit, "hash": "HMAC-SHA256 per organization, 128 bits",
                     "ip_truncation": "/24 IPv4, /48 IPv6", "free_text": "dropped"},
        )  # fmt: skip
        manifest["source"] = {"organization": "anonymized"}  # the dataset does not name its organization either
        writer.pack(destination, manifest, compresslevel=settings.PORTABILITY_COMPRESSLEVEL)
        return {**manifest, "files": {f.name: {"entry": f.entry, "rows": f.rows} for f in writer.files}}
