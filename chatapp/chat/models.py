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

    class Meta:
        # The message list walks one channel newest-first by id; search and admin filter by organization.
        indexes = [
            models.Index(fields=["channel", "-id"], name="message_channel_newest"),
            models.Index(fields=["organization", "-id"], name="message_org_newest"),
        ]

    def __str__(self):
        return f"{self.author} in {self.channel}: {self.body[:40]}"
