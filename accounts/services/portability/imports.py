"""Importing an organization archive into an empty organization (the platform operator's command).

1. The whole archive is checked before anything is written (archive.archive_check): manifest, format version,
   member names, sizes, line counts and SHA-256 of every file. A refusal writes nothing but its audit event.
2. The target must be empty (nothing of any declared model, beyond its own memberships and built-in roles).
3. Everything is created in ONE transaction, in dependency order, with new ids: a row's references are
   remapped through the ids given to the rows it points at. Users are matched by e-mail (an existing account
   gets a membership, never a second account). Any error rolls the whole import back.
4. Re-running is safe: the same archive into the same organization answers with the earlier import; after a
   failure nothing was written, so the next run starts clean.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import orjson
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, models, transaction
from django.utils import timezone

from accounts import audit_events as events
from accounts.models import Organization, OrgImport
from accounts.models.people import slug_validator
from accounts.services.portability.archive import ArchiveRefused, CheckedArchive, archive_check, sha256_of, workdir
from accounts.services.portability.registry import Exportable, exportable_by_key, exportables
from audit.services import Target, audit_record

BATCH = 2000


@dataclass
class ImportContext:
    org: Organization
    job: OrgImport
    maps: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    matched: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    dropped: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def count(self, key: str, n: int) -> None:
        self.counts[key] += n


def _require_operator(actor) -> None:
    # An import creates accounts and rewrites an organization wholesale: the platform operator's job (the command
    # line, or a superuser), never an organization's own admin.
    if actor is not None and not getattr(actor, "is_superuser", False):
        raise PermissionDenied("Only the platform operator may import an organization archive.")


def _refuse(*, org_slug: str, actor, reason: str) -> None:
    with transaction.atomic():
        audit_record(
            org=None, event=events.ORG_IMPORT_REFUSED, actor=actor,
            target=Target("accounts.organization", "", org_slug), outcome="failure", metadata={"reason": reason[:500]},
        )  # fmt: skip


def _entries_of(checked: CheckedArchive) -> list[tuple[Exportable, str]]:
    known = exportable_by_key()
    in_archive = {}
    for name, spec in checked.manifest["files"].items():
        key = spec.get("entry", "")
        if key not in known or known[key].file_name != name:
            raise ArchiveRefused(
                f"{name}: the archive holds {key!r}, a model this instance does not know (is an app missing here?)"
            )
        in_archive[key] = name
    return [(entry, in_archive[entry.key]) for entry in exportables() if entry.key in in_archive]


def _not_empty(org: Organization) -> list[str]:
    found = []
    for entry in exportables():
        if entry.allowed_in_target:
            continue
        rows = entry.target_rows(org) if entry.target_rows is not None else entry.queryset(org)
        if rows.exists():
            found.append(entry.key)
    return found


def org_import(*, archive: Path, org_slug: str, actor=None, org_name: str = "") -> OrgImport:
    """Import `archive` into the organization `org_slug` (created if it does not exist; it must be empty).

    Raises ArchiveRefused (with the reason) and writes nothing when the archive is corrupt, incompatible or does
    not fit; raises PermissionDenied unless the actor is the operator (None: the command line) or a superuser.
    """
    _require_operator(actor)
    try:
        slug_validator(org_slug)
    except DjangoValidationError:
        raise ArchiveRefused(f"{org_slug!r} is not a valid organization slug") from None
    with workdir() as directory:
        try:
            digest = sha256_of(archive)
            checked = archive_check(archive, directory)
            entries = _entries_of(checked)
            org = Organization.objects.filter(slug=org_slug).first()
            if org is not None:
                earlier = OrgImport.objects.filter(organization=org, archive_sha256=digest, status="done").first()
                if earlier is not None:
                    return earlier  # already imported: re-running changes nothing
                occupied = _not_empty(org)
                if occupied:
                    raise ArchiveRefused(
                        f"organization {org_slug!r} is not empty (it has {', '.join(occupied)}); import into a new one"
                    )
        except ArchiveRefused as exc:
            _refuse(org_slug=org_slug, actor=actor, reason=str(exc))
            raise
        except FileNotFoundError:
            raise ArchiveRefused(f"no such file: {archive}") from None
        return _import(checked=checked, entries=entries, digest=digest, org=org, org_slug=org_slug,
                       org_name=org_name, actor=actor)  # fmt: skip


def _import(*, checked, entries, digest, org, org_slug, org_name, actor) -> OrgImport:
    source = checked.manifest.get("source", {})
    existing = org  # a new organization is rolled back with the rest: only an existing one keeps a failed row

    def failed(reason: str) -> None:
        _refuse(org_slug=org_slug, actor=actor, reason=reason)
        if existing is not None:
            OrgImport.objects.create(
                organization=existing, status=OrgImport.Status.FAILED, archive_sha256=digest, source=source,
                format_version=checked.manifest.get("format_version"), finished_at=timezone.now(), error=reason,
                started_by=actor if getattr(actor, "is_authenticated", False) else None,
            )  # fmt: skip

    try:
        with transaction.atomic():
            if org is not None:
                # Two imports into one organization at once: the second waits here, then finds it occupied.
                org = Organization.objects.select_for_update().get(pk=org.pk)
                occupied = _not_empty(org)
                if occupied or OrgImport.objects.filter(organization=org, status=OrgImport.Status.DONE).exists():
                    raise ArchiveRefused(f"organization {org_slug!r} is not empty (an import ran meanwhile)")
            if org is None:
                org = Organization.objects.create(slug=org_slug, name=org_name or source.get("name") or org_slug)
                audit_record(org=org, event=events.ORG_CREATED, actor=actor, target=org)
            job = OrgImport.objects.create(
                organization=org, archive_sha256=digest, source=source,
                format_version=checked.manifest["format_version"],
                started_by=actor if getattr(actor, "is_authenticated", False) else None,
            )  # fmt: skip
            context = ImportContext(org=org, job=job)
            # Ids are remembered only for what something points at (channels, users), not for a million messages.
            referenced = {key for entry, _ in entries for key in (*entry.refs.values(), *entry.after)}
            for entry, name in entries:
                _import_entry(context, entry, checked, name, keep_ids=entry.key in referenced)
            job.status = OrgImport.Status.DONE
            job.finished_at = timezone.now()
            job.counts, job.matched, job.dropped = dict(context.counts), dict(context.matched), dict(context.dropped)
            job.save()
            audit_record(
                org=org, event=events.ORG_IMPORTED, actor=actor, target=org,
                metadata={"import": job.pk, "source": source, "archive_sha256": digest, "counts": job.counts,
                          "matched": job.matched, "dropped": job.dropped},
            )  # fmt: skip
            return job
    except (DatabaseError, DjangoValidationError, ValueError, TypeError, KeyError) as exc:
        reason = f"the archive's data does not fit this instance ({exc.__class__.__name__}: {str(exc)[:300]})"
        failed(reason)
        raise ArchiveRefused(reason) from None
    except ArchiveRefused as exc:
        failed(str(exc))
        raise


def _batches(lines, size=BATCH):
    batch = []
    for item in lines:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _import_entry(context: ImportContext, entry: Exportable, checked: CheckedArchive, name: str, *, keep_ids: bool):
    model = entry.model_class
    full_migration = bool(checked.manifest.get("options", {}).get("full_migration"))
    allowed = {"id", *entry.exported_fields(full_migration=full_migration)}
    required = {"id", *entry.fields}
    if entry.importer is not None:
        for batch in _batches(checked.lines(name)):
            rows = [_checked_row(name, number, row, allowed, required) for number, row in batch]
            entry.importer(context, rows)
        return
    fields = {field_name: model._meta.get_field(field_name) for field_name in allowed - {"id"}}
    tenant = any(f.name == "organization" for f in model._meta.fields)
    attnames: dict[str, str] = {}  # field name -> column attribute ("channel" -> "channel_id"), looked up once

    def attname(name: str) -> str:
        if name not in attnames:
            attnames[name] = model._meta.get_field(name).attname
        return attnames[name]

    timestamps = [name for name, model_field in fields.items() if isinstance(model_field, models.DateTimeField)]
    self_refs = entry.self_refs()
    deferred: list[tuple[object, str, int]] = []  # (created object, field, source id of the row it points at)
    id_map = context.maps[entry.key]
    for batch in _batches(checked.lines(name)):
        rows = []
        for number, row in batch:
            row = _checked_row(name, number, row, allowed, required)
            if _remap(context, entry, row, fields, self_refs):
                rows.append(row)
        if entry.match is not None and rows:
            found = entry.match(context.org, rows)
            for source_id, target_id in found.items():
                id_map[source_id] = target_id
            context.matched[entry.key] += len(found)
            rows = [row for row in rows if row["id"] not in found]
        objects, sources, pending = [], [], []
        for row in rows:
            if entry.prepare is not None:
                entry.prepare(row)
            source_id = row.pop("id")
            later = {ref: row.pop(ref) for ref in self_refs if row.get(ref) is not None}
            for key in timestamps:
                if isinstance(row.get(key), str):
                    # C-speed ISO parsing (Django's regex parser was a tenth of the import); bad text: ValueError.
                    row[key] = datetime.fromisoformat(row[key])
            values = {attname(key): value for key, value in row.items()}
            if tenant:
                values["organization_id"] = context.org.pk
            objects.append(model(**values))
            sources.append(source_id)
            pending.append(later)
        model._default_manager.bulk_create(objects)
        for obj, source_id, later in zip(objects, sources, pending, strict=True):
            if keep_ids or self_refs:
                id_map[source_id] = obj.pk
            deferred.extend((obj, ref, target) for ref, target in later.items())
        context.count(entry.key, len(objects))
    if deferred:
        changed = []
        for obj, ref, target in deferred:
            setattr(obj, fields[ref].attname, id_map.get(target))
            changed.append(obj)
        model._default_manager.bulk_update(changed, [fields[ref].attname for ref in self_refs], batch_size=BATCH)


def _checked_row(name: str, number: int, row: dict, allowed: set, required: set) -> dict:
    keys = set(row)
    if keys - allowed or required - keys:
        unknown, missing = sorted(keys - allowed), sorted(required - keys)
        raise ArchiveRefused(f"{name}, line {number}: unexpected fields {unknown} / missing fields {missing}")
    return row


def _remap(context: ImportContext, entry: Exportable, row: dict, fields: dict, self_refs: tuple) -> bool:
    """Point the row's references at the target's ids; False when the row must be left out."""
    for ref, target in entry.refs.items():
        source_id = row.get(ref)
        if source_id is None or ref in self_refs:
            continue
        new_id = context.maps[target].get(source_id)
        if new_id is None and (ref in entry.required or not fields[ref].null):
            context.dropped[entry.key] += 1
            return False
        row[ref] = new_id
    for id_field, type_field in entry.resource_refs.items():
        source_id, kind = row.get(id_field), row.get(type_field)
        if source_id is None or not kind:
            continue
        new_id = context.maps.get(kind, {}).get(source_id)
        if new_id is None:
            context.dropped[entry.key] += 1
            return False
        row[id_field] = new_id
    return True


def imported_audit_events_redact(*, user_id: int, terms: list[str], pseudonym: str) -> int:
    """Replace a person's e-mail address and name in imported (historical) audit events; returns rows changed.

    For the erasure of a data subject (accounts.services.privacy.user_erase calls it): these rows are a copy of
    another instance's trail, outside this instance's hash chain, so they are rewritten in place and marked
    `"redacted": true` (they no longer match the source's hashes, which is the point). The caller's transaction
    holds it together with the rest of the erasure.
    """
    from accounts.models import ImportedAuditEvent, Membership

    terms = [term for term in terms if term]
    if not terms:
        return 0
    changed = []
    # Every historical event of the person's organizations: their address can sit in any label or text field.
    orgs = Membership.objects.filter(user_id=user_id).values("organization_id")
    for event in ImportedAuditEvent.objects.filter(organization_id__in=orgs).iterator(chunk_size=1000):
        text = orjson.dumps(event.record).decode()
        for term in terms:
            text = text.replace(orjson.dumps(term).decode()[1:-1], pseudonym)
        record = orjson.loads(text)
        if record.get("actor_id") == str(user_id):
            record["ip"], record["user_agent"] = None, ""
        if record != event.record:
            record["redacted"] = True
            event.record = record
            changed.append(event)
    ImportedAuditEvent.objects.bulk_update(changed, ["record"], batch_size=1000)
    return len(changed)
