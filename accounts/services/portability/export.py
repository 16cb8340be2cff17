"""Organization exports: request (API, command), run (Celery, with progress), download, expire.

A full export streams every declared model (registry.py) into the archive: each model is read with one chunked
query (`iterator(chunk_size=...)`, a server-side cursor on PostgreSQL) and written line by line, so memory does
not grow with the organization. Models are read referrers first (messages before channels, channels before
users): a row created during the export can then only add targets, never leave a reference dangling.
"""

import logging
import time
from datetime import timedelta
from pathlib import Path

import orjson
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import audit_events as events
from accounts.models import Organization, OrgExport
from accounts.permissions import ORG_EXPORT
from accounts.services.portability.archive import FORMAT, FORMAT_VERSION, ArchiveWriter, chatapp_version, workdir
from accounts.services.portability.registry import Exportable, selected
from audit.services import Target, audit_record
from chatapp.kernel.encryption.fields import EncryptedTextField
from chatapp.kernel.errors import Conflict
from rbac.services import require_perm

log = logging.getLogger(__name__)

CHUNK = 5000  # rows per fetch: big enough for throughput, small enough for memory


def export_dir() -> Path:
    path = Path(settings.PORTABILITY_EXPORT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _target(job: OrgExport) -> Target:
    return Target("accounts.orgexport", str(job.pk), f"{job.kind} export #{job.pk}")


def _jsonable(value):
    return str(value)  # Decimal, UUID and the like: the import's field parses them back


def encode(row: dict) -> bytes:
    return orjson.dumps(row, default=_jsonable) + b"\n"


# --- request ------------------------------------------------------------------------------------------------


@transaction.atomic
def org_export_request(
    *, actor, org: Organization, kind: str = OrgExport.Kind.FULL, fmt: str = OrgExport.Format.JSONL,
    include_audit: bool = False, full_migration: bool = False, queue: bool = True,
) -> OrgExport:  # fmt: skip
    """Ask for an export; a Celery task writes it (queue=False: the caller runs `org_export_run` itself).

    Needs `org.export`. `full_migration` (password hashes in the archive) is for the platform operator only: the
    command line (actor None) or a superuser. One export of an organization runs at a time (409 otherwise).
    """
    if actor is not None:
        require_perm(user=actor, org=org, perm=ORG_EXPORT)
    if kind not in OrgExport.Kind.values:
        raise ValidationError({"kind": [f"Choose one of: {', '.join(OrgExport.Kind.values)}."]})
    if fmt not in OrgExport.Format.values:
        raise ValidationError({"format": [f"Choose one of: {', '.join(OrgExport.Format.values)}."]})
    if kind == OrgExport.Kind.FULL and fmt != OrgExport.Format.JSONL:
        raise ValidationError({"format": ["A full export is JSON Lines (CSV is for anonymized datasets)."]})
    if full_migration:
        if kind != OrgExport.Kind.FULL:
            raise ValidationError({"full_migration": ["Only a full export can carry password hashes."]})
        if actor is not None and not actor.is_superuser:
            raise PermissionDenied("Only the platform operator may export password hashes (full-migration mode).")
    Organization.objects.select_for_update().filter(pk=org.pk).first()  # one request at a time per organization
    if OrgExport.objects.filter(
        organization=org, status__in=[OrgExport.Status.QUEUED, OrgExport.Status.RUNNING]
    ).exists():
        raise Conflict("An export of this organization is already queued or running; wait for it to finish.")
    job = OrgExport.objects.create(
        organization=org, kind=kind, format=fmt, include_audit=include_audit, full_migration=full_migration,
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
    )  # fmt: skip
    audit_record(
        org=org, event=events.ORG_EXPORT_REQUESTED, actor=actor, target=_target(job),
        metadata={"kind": kind, "format": fmt, "include_audit": include_audit, "full_migration": full_migration},
    )  # fmt: skip
    if queue:
        from accounts.tasks import org_export_run_task

        transaction.on_commit(lambda: org_export_run_task.delay(job.pk))
    return job


# --- run ----------------------------------------------------------------------------------------------------


class Progress:
    """Keeps the job row's rows_done and current_model up to date, at most once a second (cheap at 1M rows)."""

    def __init__(self, job: OrgExport):
        self.job = job
        self.done = 0
        self.model = ""
        self._last = 0.0

    def start(self, model: str) -> None:
        self.model = model
        self._save()

    def add(self, rows: int) -> None:
        self.done += rows
        if time.monotonic() - self._last >= 1.0:
            self._save()

    def _save(self) -> None:
        self._last = time.monotonic()
        OrgExport.objects.filter(pk=self.job.pk).update(rows_done=self.done, current_model=self.model)


def entry_lines(entry: Exportable, org: Organization, *, full_migration: bool = False):
    """The entry's rows as encoded JSON lines, in id order, one chunked query."""
    names = entry.exported_fields(full_migration=full_migration)
    model = entry.model_class
    model_fields = [model._meta.get_field(name) for name in names]
    queryset = entry.queryset(org).order_by("pk")
    if any(isinstance(field, EncryptedTextField) for field in model_fields):
        # Encrypted columns are decrypted by the model (values() gives sealed placeholders): the archive holds
        # plaintext, and the import encrypts it again under the target's keys.
        for obj in queryset.iterator(chunk_size=CHUNK):
            row = {"id": obj.pk}
            for name, field in zip(names, model_fields, strict=True):
                row[name] = getattr(obj, field.attname)
            yield encode(row)
        return
    keys = ("id", *names)
    columns = [field.attname for field in model_fields]
    if connection.vendor == "postgresql":
        # Timestamps as ISO text straight from the server: parsing a million of them into datetimes only to format
        # them again was half the export's time (docs/performance.md). Same instant, with microseconds always.
        for index, field in enumerate(model_fields):
            if isinstance(field, models.DateTimeField):
                alias = f"_portability_{field.attname}"
                queryset = queryset.annotate(**{alias: UtcIsoText(field.attname)})
                columns[index] = alias
    for values in queryset.values_list("pk", *columns).iterator(chunk_size=CHUNK):
        yield encode(dict(zip(keys, values, strict=True)))


class UtcIsoText(models.Func):
    """PostgreSQL: a timestamptz as ISO 8601 text in UTC, e.g. 2026-11-25T13:00:00.000000+00:00."""

    template = """to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""
    output_field = models.TextField()


def manifest_base(org: Organization, *, kind: str, options: dict) -> dict:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "chatapp_version": chatapp_version(),
        "kind": kind,
        "source": {
            "organization": org.slug, "name": org.name, "id": org.pk, "instance": settings.PORTABILITY_INSTANCE_NAME,
        },
        "created_at": timezone.now().isoformat(),
        "options": options,
    }  # fmt: skip


def org_archive_write(
    *, org: Organization, destination: Path, include_audit: bool = False, full_migration: bool = False,
    progress: Progress | None = None, compresslevel: int | None = None,
) -> dict:  # fmt: skip
    """Write the organization's full archive to `destination`; returns the manifest (with per-file counts)."""
    entries = selected(include_optional=include_audit)
    if progress is not None:
        progress.job.rows_total = sum(entry.queryset(org).count() for entry in entries)
        OrgExport.objects.filter(pk=progress.job.pk).update(rows_total=progress.job.rows_total)
    with workdir() as directory:
        writer = ArchiveWriter(directory)
        for entry in reversed(entries):  # referrers first: see the module docstring
            if progress is not None:
                progress.start(entry.key)
            writer.write_lines(
                entry.file_name, entry_lines(entry, org, full_migration=full_migration), entry=entry.key,
                on_rows=progress.add if progress is not None else None,
            )  # fmt: skip
        writer.files.sort(key=lambda data: data.name)
        manifest = manifest_base(
            org, kind="full", options={"include_audit": include_audit, "full_migration": full_migration}
        )
        writer.pack(destination, manifest, compresslevel=compresslevel or settings.PORTABILITY_COMPRESSLEVEL)
        return {**manifest, "files": {f.name: {"entry": f.entry, "rows": f.rows} for f in writer.files}}


def org_export_run(*, export_id: int) -> OrgExport | None:
    """Write the export's file (the Celery task). Safe to run twice: a job is claimed by one runner only; a job
    left `running` by a dead worker is claimed again once PORTABILITY_EXPORT_TIME_LIMIT has passed."""
    from accounts.services.portability.anonymize import org_dataset_write

    now = timezone.now()
    stale = now - timedelta(seconds=settings.PORTABILITY_EXPORT_TIME_LIMIT)
    claimed = (
        OrgExport.objects.filter(pk=export_id)
        .filter(Q(status=OrgExport.Status.QUEUED) | Q(status=OrgExport.Status.RUNNING, started_at__lt=stale))
        .update(status=OrgExport.Status.RUNNING, started_at=now, rows_done=0, current_model="", error="")
    )
    if not claimed:
        return None
    job = OrgExport.objects.select_related("organization").get(pk=export_id)
    org = job.organization
    file_name = f"{org.slug}-{job.kind}-{job.pk}-{now:%Y%m%dT%H%M%SZ}.tar.gz"
    destination = export_dir() / file_name
    progress = Progress(job)
    try:
        if job.kind == OrgExport.Kind.FULL:
            manifest = org_archive_write(
                org=org, destination=destination, include_audit=job.include_audit,
                full_migration=job.full_migration, progress=progress,
            )  # fmt: skip
        else:
            manifest = org_dataset_write(
                org=org, destination=destination, fmt=job.format, include_audit=job.include_audit, progress=progress
            )
    except Exception as exc:
        log.exception("organization export failed", extra={"export": job.pk})
        destination.unlink(missing_ok=True)
        with transaction.atomic():
            OrgExport.objects.filter(pk=job.pk).update(
                status=OrgExport.Status.FAILED, finished_at=timezone.now(), rows_done=progress.done,
                error=f"{exc.__class__.__name__}: the export stopped; the worker's log has the details.",
            )  # fmt: skip
            audit_record(
                org=org, event=events.ORG_EXPORT_FINISHED, actor=None, target=_target(job), outcome="failure",
                metadata={"error": exc.__class__.__name__},
            )  # fmt: skip
        job.refresh_from_db()
        return job
    from accounts.services.portability.archive import sha256_of

    counts = {f["entry"]: f["rows"] for f in manifest["files"].values()}
    with transaction.atomic():
        OrgExport.objects.filter(pk=job.pk).update(
            status=OrgExport.Status.DONE, finished_at=timezone.now(), rows_done=progress.done, current_model="",
            rows_total=max(progress.done, job.rows_total), counts=counts, file_name=file_name,
            size=destination.stat().st_size, sha256=sha256_of(destination),
            expires_at=timezone.now() + timedelta(days=settings.PORTABILITY_EXPORT_TTL_DAYS),
        )  # fmt: skip
        audit_record(
            org=org, event=events.ORG_EXPORT_FINISHED, actor=None, target=_target(job),
            metadata={"rows": progress.done, "counts": counts, "bytes": destination.stat().st_size},
        )  # fmt: skip
    job.refresh_from_db()
    return job


# --- download and expiry ------------------------------------------------------------------------------------


def org_export_path(job: OrgExport) -> Path:
    return export_dir() / job.file_name


@transaction.atomic
def org_export_download(*, actor, org: Organization, job: OrgExport) -> Path:
    """The file of a finished export, for someone holding `org.export` (audited). 409 if not ready or expired."""
    if actor is not None:
        require_perm(user=actor, org=org, perm=ORG_EXPORT)
    if job.organization_id != org.pk:
        raise PermissionDenied("This export belongs to another organization.")
    if job.status != OrgExport.Status.DONE:
        raise Conflict(f"This export is {job.get_status_display().lower()}: there is no file to download.")
    path = org_export_path(job)
    if not path.is_file():
        raise Conflict("This export's file is gone (deleted by an operator or at expiry).")
    audit_record(org=org, event=events.ORG_EXPORT_DOWNLOADED, actor=actor, target=_target(job))
    return path


def org_exports_expire(*, now=None) -> int:
    """Delete the files of exports past their expiry (beat, hourly); returns how many. Safe to run twice."""
    now = now or timezone.now()
    expired = 0
    for pk in list(
        OrgExport.objects.filter(status=OrgExport.Status.DONE, expires_at__lte=now).values_list("pk", flat=True)
    ):
        with transaction.atomic():
            job = OrgExport.objects.select_for_update().select_related("organization").filter(pk=pk).first()
            if job is None or job.status != OrgExport.Status.DONE:
                continue
            org_export_path(job).unlink(missing_ok=True)
            job.status = OrgExport.Status.EXPIRED
            job.save(update_fields=["status"])
            audit_record(org=job.organization, event=events.ORG_EXPORT_EXPIRED, actor=None, target=_target(job))
            expired += 1
    return expired
