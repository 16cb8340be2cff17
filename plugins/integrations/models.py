"""Per-organization state of the integrations: installations, outgoing webhook endpoints and their deliveries,
incoming webhooks, and the inbound de-duplication log. The integrations' code (manifests, handlers) lives in
one folder per integration; these rows are what an organization configured (Sentry's provider/installation split).
"""

import uuid

from django.conf import settings as django_settings
from django.db import models
from django.utils import timezone

from chatapp.kernel.encryption.fields import EncryptedJSONField, EncryptedTextField
from chatapp.kernel.models import TenantModel


class Installation(TenantModel):
    """One integration installed in one organization: its settings (validated against the manifest's schema),
    its secrets (encrypted, write-only in the API), its bot user (who posts its messages) and, for integrations
    that receive events, the token in its inbound URL (/hooks/<integration>/<token>/; only a digest is stored)."""

    integration = models.CharField(max_length=40, help_text="The integration's slug, e.g. github.")
    enabled = models.BooleanField(default=True)
    settings = models.JSONField(default=dict, blank=True)
    secrets = EncryptedJSONField(default=dict, blank=True, per_org=True)
    encryption_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    bot_user = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    inbound_token_digest = models.CharField(max_length=64, blank=True, db_index=True)
    inbound_token_hint = models.CharField(max_length=12, blank=True)
    installed_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "integration"], name="integration_once_per_org")]
        ordering = ["organization", "integration"]

    def __str__(self):
        return self.integration


class WebhookEndpoint(TenantModel):
    """An outgoing webhook: where events of the subscribed types (matching the filters) are POSTed, signed with
    the Standard Webhooks scheme. During a rotation the previous secret also signs until `previous_secret_expires`.
    """

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=2000)
    enabled = models.BooleanField(default=True)
    event_types = models.JSONField(default=list, help_text='Event types, e.g. ["message.posted", "audit.*"].')
    filters = models.JSONField(
        default=dict, blank=True, help_text='{"channel_ids": [...], "conditions": [{"field", "op", "value"}]}'
    )
    body_template = models.TextField(
        blank=True, help_text="A sandboxed Jinja2 template of the body; empty sends the versioned JSON envelope."
    )
    secret = EncryptedTextField(per_org=True)
    previous_secret = EncryptedTextField(null=True, blank=True, per_org=True)
    previous_secret_expires = models.DateTimeField(null=True, blank=True)
    encryption_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True, help_text="First failure since the last success.")
    disabled_reason = models.CharField(max_length=200, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="webhook_endpoint_org_name")]
        ordering = ["organization", "name"]

    def __str__(self):
        return self.name


class WebhookEvent(TenantModel):
    """One event of an organization, as sent to every subscribed endpoint. `event_id` is the Standard Webhooks
    `webhook-id`: the same for every attempt and replay, so receivers de-duplicate on it."""

    event_id = models.CharField(max_length=40, unique=True)
    event_type = models.CharField(max_length=100)
    data = models.JSONField(default=dict)
    occurred_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["organization", "-occurred_at"], name="webhook_event_org_newest")]

    def __str__(self):
        return self.event_id


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    RETRYING = "retrying", "Failed, will retry"
    DEAD = "dead", "Dead letter"


class Delivery(TenantModel):
    """One event to one endpoint, through its attempts. A replay is a new delivery of the same event."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    replay_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    is_test = models.BooleanField(default=False)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "-id"], name="delivery_org_newest"),
            models.Index(fields=["endpoint", "-id"], name="delivery_endpoint_newest"),
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
        ]
        ordering = ["-id"]

    def __str__(self):
        return f"{self.event_id} -> {self.endpoint_id}"


class DeliveryAttempt(TenantModel):
    """One HTTP attempt of a delivery: the request as sent (headers without secrets; the signature is not one),
    the response status and its first 2 KiB, the latency and the error."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    request_headers = models.JSONField(default=dict)
    request_body = models.TextField(blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self):
        return f"attempt {self.number} of {self.delivery_id}"


class IncomingWebhook(TenantModel):
    """A URL (/hooks/incoming/<token>/) that posts into one channel as the webhooks integration's bot. Only a
    digest of the token is stored; the URL is shown once when created."""

    name = models.CharField(max_length=100)
    channel = models.ForeignKey("chat.Channel", on_delete=models.CASCADE, related_name="+")
    token_digest = models.CharField(max_length=64, unique=True)
    token_hint = models.CharField(max_length=12)
    enabled = models.BooleanField(default=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["organization", "name"]

    def __str__(self):
        return self.name


class InboundDelivery(TenantModel):
    """A request received from another tool, kept to de-duplicate on its delivery id (GitHub retries, Slack
    retries) and to show what arrived. Bodies are not kept."""

    installation = models.ForeignKey(Installation, on_delete=models.CASCADE, related_name="inbound")
    delivery_id = models.CharField(max_length=100)
    event = models.CharField(max_length=100)
    outcome = models.CharField(max_length=200, blank=True)
    messages_posted = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["installation", "delivery_id"], name="inbound_delivery_once"),
        ]
        ordering = ["-id"]

    def __str__(self):
        return f"{self.installation_id}:{self.delivery_id}"


class SlackImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class SlackImport(TenantModel):
    """A Slack workspace export being imported: resumable (each imported Slack message is remembered by its
    channel and ts, so a re-run skips it), with progress and what could not be mapped."""

    archive = models.CharField(max_length=500, help_text="Path of the uploaded zip under the import directory.")
    status = models.CharField(max_length=10, choices=SlackImportStatus.choices, default=SlackImportStatus.QUEUED)
    progress = models.JSONField(default=dict, blank=True)
    unmapped = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"Slack import {self.pk}"


class ImportedItem(TenantModel):
    """What an import created for one Slack object (a channel, or a message by channel id and ts)."""

    kind = models.CharField(max_length=10)
    source_id = models.CharField(max_length=120)
    target_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "kind", "source_id"], name="imported_item_once"),
        ]

    def __str__(self):
        return f"{self.kind}:{self.source_id}"


class EventCursor(TenantModel):
    """How far the organization's audit chain has been turned into webhook events (the event source that needs
    no hook in other apps: message.posted, channel.created, member.joined and audit.* come from the trail)."""

    last_sequence = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="event_cursor_one_per_org")]

    def __str__(self):
        return f"cursor {self.last_sequence}"
