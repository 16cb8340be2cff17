"""The chat core that every enterprise feature governs: channels, their members, and messages."""

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from chatapp.kernel.models import TenantModel


class Channel(TenantModel):
    """A conversation space. Private channels are visible to their members only."""

    name = models.CharField(max_length=80)
    topic = models.CharField(max_length=250, blank=True)
    is_private = models.BooleanField(default=False)
    is_archived = models.BooleanField(default=False, help_text="Archived channels are read-only.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="ChannelMember", related_name="channels", blank=True
    )

    class Meta:
        constraints = [models.UniqueConstraint("organization", Lower("name"), name="channel_name_ci_unique_per_org")]
        ordering = ["name"]

    def __str__(self):
        return f"#{self.name}"


class ChannelMember(TenantModel):
    """A user's membership of one channel."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    added = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "user"], name="channel_member_unique")]
        indexes = [models.Index(fields=["user", "channel"], name="channel_member_user")]

    def __str__(self):
        return f"{self.user} in {self.channel}"


class Message(TenantModel):
    """A message. Deleting is soft: the row stays for retention and audit, the API no longer shows it."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    created = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    edited = models.DateTimeField(null=True, blank=True)
    deleted = models.DateTimeField(null=True, blank=True)
    anonymized = models.DateTimeField(
        null=True, blank=True, help_text="When the retention policy blanked the body and dropped the author."
    )

    class Meta:
        # The message list walks one channel newest-first by id; search and admin filter by organization.
        indexes = [
            models.Index(fields=["channel", "-id"], name="message_channel_newest"),
            models.Index(fields=["organization", "-id"], name="message_org_newest"),
        ]

    def __str__(self):
        return f"{self.author} in {self.channel}: {self.body[:40]}"


# Message retention (docs/data-protection.md, "Message retention"). The rules live here as data; the one query that
# applies them is chatapp.chat.retention.messages_expiring, used by both the preview and the run.

RETENTION_MAX_DAYS = 36500


class RetentionAction(models.TextChoices):
    DELETE = "delete", "Delete the messages"
    ANONYMIZE = "anonymize", "Blank the body and drop the author"


class MessageRetentionPolicy(TenantModel):
    """How long an organization keeps its messages, and what happens to older ones. Off until enabled."""

    enabled = models.BooleanField(default=False)
    days = models.PositiveIntegerField(default=365, help_text="Messages older than this many days are processed.")
    action = models.CharField(max_length=10, choices=RetentionAction.choices, default=RetentionAction.DELETE)
    updated = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "message retention policies"
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="message_retention_one_per_org"),
            models.CheckConstraint(
                condition=models.Q(days__gte=1, days__lte=RETENTION_MAX_DAYS), name="message_retention_days_range"
            ),
        ]

    def __str__(self):
        state = f"{self.get_action_display().lower()} after {self.days} days" if self.enabled else "off"
        return f"message retention of {self.organization}: {state}"


class ChannelRetentionOverride(TenantModel):
    """A channel kept longer or shorter than the organization's policy, or (days empty) kept for good."""

    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="retention_override")
    days = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: this channel's messages are kept.")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(days__isnull=True) | models.Q(days__gte=1, days__lte=RETENTION_MAX_DAYS),
                name="channel_retention_days_range",
            ),
        ]

    def __str__(self):
        return f"{self.channel}: {'kept' if self.days is None else f'{self.days} days'}"


class LegalHold(TenantModel):
    """Suspends retention for one channel's messages or one user's (as author) until released.

    Released holds stay as the record of what was held, by whom and why. Several holds may cover the same
    channel or user (one per matter); each is released on its own.
    """

    # RESTRICT, not CASCADE: deleting a held channel or user would end the hold silently. (RESTRICT rather than
    # PROTECT lets a deletion of the whole organization, holds included, go through.)
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.RESTRICT, related_name="legal_holds")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.RESTRICT, related_name="+"
    )
    reason = models.CharField(max_length=500)
    created = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(channel__isnull=True, user__isnull=False)
                | models.Q(channel__isnull=False, user__isnull=True),
                name="legal_hold_channel_xor_user",
            ),
        ]
        indexes = [models.Index(fields=["organization", "released_at"], name="legal_hold_active")]

    def __str__(self):
        return f"legal hold on {self.channel or self.user}"


class RetentionRun(TenantModel):
    """One pass of the retention job over an organization, with what it did (kept up to date batch by batch)."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        PARTIAL = "partial", "Stopped at its time limit; the next run continues"

    started = models.DateTimeField(default=timezone.now, editable=False)
    finished = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    cutoff_now = models.DateTimeField(help_text="The instant the ages were measured from (the preview's 'now').")
    action = models.CharField(max_length=10, choices=RetentionAction.choices)
    days = models.PositiveIntegerField()
    processed = models.PositiveIntegerField(default=0, help_text="Messages deleted or anonymized.")
    per_channel = models.JSONField(default=dict, blank=True, help_text="{channel id: messages processed}")

    class Meta:
        ordering = ["-started"]
        indexes = [models.Index(fields=["organization", "-started"], name="retention_run_newest")]

    def __str__(self):
        return f"retention run {self.pk} of {self.organization}"
