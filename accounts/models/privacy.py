"""The register of data-subject requests (GDPR Art. 15, 17, 20; CCPA): what was asked, by whom, and by when."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

# How long the controller has to answer (GDPR Art. 12(3): one month; CCPA: 45 days).
DUE_DAYS = {"gdpr": 30, "ccpa": 45}


class PrivacyRequest(models.Model):
    """One data-subject request about a person.

    No organization: an account is the person's across the whole instance (one login, many organizations), so
    the platform operator's privacy team answers for it and keeps the register (the Django admin). Organizations
    see the effects on their own audit chains (deactivated memberships, redacted events).
    """

    class Kind(models.TextChoices):
        ACCESS = "access", "Access (Art. 15 / right to know)"
        ERASURE = "erasure", "Erasure (Art. 17 / right to delete)"
        PORTABILITY = "portability", "Portability (Art. 20)"

    class Regulation(models.TextChoices):
        GDPR = "gdpr", "GDPR (30 days)"
        CCPA = "ccpa", "CCPA (45 days)"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        REJECTED = "rejected", "Rejected"

    OPEN = (Status.RECEIVED, Status.IN_PROGRESS)

    kind = models.CharField("type", max_length=12, choices=Kind.choices)
    regulation = models.CharField(max_length=4, choices=Regulation.choices, default=Regulation.GDPR)
    # PROTECT: erasure pseudonymizes the user, never deletes it, so the register keeps who the request was about.
    subject = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="privacy_requests")
    received_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(help_text="The legal deadline: 30 days (GDPR) or 45 days (CCPA) after receipt.")
    execute_after = models.DateTimeField(
        null=True, blank=True, help_text="Erasure: the end of the grace period during which the subject may cancel."
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["status", "due_at"], name="privacy_request_open_due")]
        constraints = [
            # One pending erasure per person: a second request while one waits is refused, not queued.
            models.UniqueConstraint(
                fields=["subject"],
                condition=models.Q(kind="erasure", status__in=["received", "in_progress"]),
                name="privacy_request_one_open_erasure",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} request #{self.pk}"

    def save(self, *args, **kwargs):
        if self.due_at is None:
            self.due_at = self.received_at + timedelta(days=DUE_DAYS[self.regulation])
        super().save(*args, **kwargs)

    @property
    def is_overdue(self) -> bool:
        return self.status in self.OPEN and self.due_at < timezone.now()
