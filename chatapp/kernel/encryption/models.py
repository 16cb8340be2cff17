"""Encryption state kept in the database: organizations' wrapped data keys and key-rotation progress."""

import uuid

from django.db import models

from chatapp.kernel.encryption.fields import EncryptedTextField


class OrgDataKey(models.Model):
    """An organization's data key: base64 of 32 random bytes, wrapped (encrypted) by the master key ring.

    Destroying it blanks `material` and stamps `destroyed_at`; the row stays as a tombstone so that reads say
    "destroyed" rather than "missing", and no new key is made behind the shredding's back.
    """

    organization = models.OneToOneField("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    encryption_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    material = EncryptedTextField(null=True)
    created = models.DateTimeField(auto_now_add=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "organization data key"

    def __str__(self):
        return f"data key of organization {self.organization_id}"


class KeyRotation(models.Model):
    """One run of `rotate_encryption_keys`: every encrypted column re-encrypted with `target_key_id`."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    target_key_id = models.CharField(max_length=32)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    started_by = models.CharField(max_length=255, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-started_at"]
        # One rotation at a time: two would fight over which key each row ends on.
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=models.Q(status="running"), name="kernel_one_running_rotation"
            )
        ]

    def __str__(self):
        return f"rotation to {self.target_key_id} ({self.status})"


class KeyRotationStep(models.Model):
    """Progress of one model in a rotation. `last_pk` moves in the transaction that rewrites the batch, so a run
    that dies resumes exactly after the last committed batch."""

    rotation = models.ForeignKey(KeyRotation, on_delete=models.CASCADE, related_name="steps")
    model = models.CharField(max_length=100, help_text="app_label.ModelName")
    rows_total = models.BigIntegerField(default=0)
    rows_done = models.BigIntegerField(default=0)
    rows_rewritten = models.BigIntegerField(default=0)
    last_pk = models.CharField(max_length=64, blank=True)
    done = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rotation", "model"], name="kernel_rotation_step_model")]
        ordering = ["rotation", "model"]

    def __str__(self):
        return f"{self.model}: {self.rows_done}/{self.rows_total}"
