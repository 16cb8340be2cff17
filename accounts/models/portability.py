"""Organization export and import (docs/data-protection.md, "Moving an organization"): the jobs and what they leave.

An export is a Celery job that writes a versioned tar.gz archive (JSON Lines per model + manifest.json); its
progress (rows done / total, the model being read) is kept on the row so the API and the admin can show it, and
the file is deleted when it expires. An import is run by the platform operator into an empty organization;
the row records what was imported, from which archive, and why it failed if it did.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from chatapp.kernel.encryption.fields import EncryptedTextField
from chatapp.kernel.models import TenantModel


class OrgExport(TenantModel):
    """One export of an organization's data: the whole organization, or an anonymized dataset for analytics."""

    class Kind(models.TextChoices):
        FULL = "full", "Full export (for moving the organization)"
        ANONYMIZED = "anonymized", "Anonymized dataset (for analytics)"

    class Format(models.TextChoices):
        JSONL = "jsonl", "JSON Lines"
        CSV = "csv", "CSV"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Ready to download"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired (file deleted)"

    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.FULL)
    format = models.CharField(max_length=8, choices=Format.choices, default=Format.JSONL)
    include_audit = models.BooleanField(default=False, help_text="Full exports: add the audit trail's events.")
    full_migration = models.BooleanField(
        default=False, help_text="Full exports made by the operator only: password hashes included."
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="The file is deleted after this time.")
    current_model = models.CharField(max_length=100, blank=True, help_text="The model being read now.")
    rows_done = models.PositiveBigIntegerField(default=0)
    rows_total = models.PositiveBigIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True, help_text="Rows written per model.")
    file_name = models.CharField(max_length=200, blank=True, help_text="Inside PORTABILITY_EXPORT_DIR.")
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created"], name="org_export_newest"),
            models.Index(fields=["status", "expires_at"], name="org_export_expiry"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk} of {self.organization}"

    @property
    def progress(self) -> float:
        return (
            round(self.rows_done / self.rows_total, 4) if self.rows_total else (1.0 if self.status == "done" else 0.0)
        )


class OrgImport(TenantModel):
    """One import of an archive into an (empty) organization, by the platform operator."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed: nothing was imported"

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    archive_sha256 = models.CharField(max_length=64, help_text="SHA-256 of the archive file.")
    source = models.JSONField(default=dict, blank=True, help_text="The manifest's source organization and instance.")
    format_version = models.PositiveIntegerField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True, help_text="Rows created per model.")
    matched = models.JSONField(default=dict, blank=True, help_text="Rows matched to existing ones (users by e-mail).")
    dropped = models.JSONField(
        default=dict, blank=True, help_text="Rows left out because they refer to something outside the archive."
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # Re-running the import of the same archive answers with the earlier result instead of a copy.
            models.UniqueConstraint(
                fields=["organization", "archive_sha256"], condition=models.Q(status="done"), name="org_import_once"
            )
        ]

    def __str__(self):
        return f"import #{self.pk} into {self.organization}"


class ImportedAuditEvent(TenantModel):
    """An audit event of the source instance, kept as a historical record: NOT part of this instance's chain.

    Imported events cannot join the target organization's hash chain (their hashes were made with the source's
    audit key, and appending them would rewrite history under a new key), so they are stored verbatim beside it,
    with their original sequence and hashes: the source chain can still be verified offline with the source's key.
    """

    imported = models.ForeignKey(OrgImport, on_delete=models.CASCADE, related_name="audit_events")
    source_sequence = models.BigIntegerField()
    occurred_at = models.DateTimeField()
    event_name = models.CharField(max_length=100)
    record = models.JSONField(help_text="The event as exported by the source instance (labels, hashes, key id).")

    class Meta:
        ordering = ["organization", "source_sequence"]
        indexes = [models.Index(fields=["organization", "occurred_at"], name="imported_audit_time")]

    def __str__(self):
        return f"historical #{self.source_sequence} {self.event_name}"


class AnonymizationSalt(TenantModel):
    """The organization's secret for keyed hashes in anonymized datasets (HMAC-SHA256), encrypted at rest.

    One per organization, so pseudonyms of two organizations cannot be joined; deleting the row makes every
    dataset made so far unlinkable to the next ones.
    """

    encryption_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    salt = EncryptedTextField()
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="anonymization_salt_one_per_org")]

    def __str__(self):
        return f"anonymization salt of {self.organization_id}"
