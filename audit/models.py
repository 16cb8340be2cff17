"""The audit trail: append-only rows, one HMAC hash chain per organization (and one for the platform).

The database refuses UPDATE and DELETE on AuditEvent (triggers created in the migrations); only the retention
purge may delete, and only while it holds a row in AuditPurgePermit inside its own transaction.
"""

import uuid

from django.db import models


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    DENIED = "denied", "Denied"


class ActorType(models.TextChoices):
    USER = "user", "User"
    API_KEY = "api_key", "API key"
    SYSTEM = "system", "System (task or command)"
    PLUGIN = "plugin", "Plugin or integration"


PLATFORM_CHAIN = 0  # events without an organization (process start, migrations) chain here


class AuditEvent(models.Model):
    """One recorded event. Immutable once written; `hash` seals it into its organization's chain."""

    organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    chain = models.BigIntegerField(help_text="The organization's id, or 0 for platform events.")
    sequence = models.BigIntegerField()
    occurred_at = models.DateTimeField()
    event_code = models.PositiveIntegerField()
    event_name = models.CharField(max_length=100)
    category = models.CharField(max_length=20)
    actor_type = models.CharField(max_length=10, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=255, blank=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=255, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    session_ref = models.CharField(max_length=32, blank=True, help_text="A hash of the session key, never the key.")
    api_key_id = models.CharField(max_length=64, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    key_id = models.CharField(max_length=32, help_text="Which HMAC key sealed the row.")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain", "sequence"], name="audit_event_chain_sequence")]
        # The list is newest first by id: each filter's index ends with id, so a page of a rare event, actor,
        # target or category is read backwards from that index instead of walking the whole organization's rows
        # (docs/performance.md, the events list at 5 million rows).
        indexes = [
            models.Index(fields=["organization", "-sequence"], name="audit_org_newest"),
            models.Index(fields=["organization", "event_name", "id"], name="audit_org_event_id"),
            models.Index(fields=["organization", "category", "id"], name="audit_org_category_id"),
            models.Index(fields=["organization", "actor_type", "actor_id", "id"], name="audit_org_actor_id"),
            models.Index(fields=["organization", "target_type", "target_id", "id"], name="audit_org_target_id"),
            models.Index(fields=["organization", "occurred_at"], name="audit_org_time"),
        ]
        ordering = ["-chain", "-sequence"]

    def __str__(self):
        return f"#{self.sequence} {self.event_name}"


class AuditChain(models.Model):
    """The head of one chain: the last sequence and hash, locked while an event is sealed onto it.

    `base_sequence`/`base_hash` say where the retained part of the chain starts after a retention purge.
    """

    chain = models.BigIntegerField(primary_key=True)
    last_sequence = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64)
    base_sequence = models.BigIntegerField(default=0)
    base_hash = models.CharField(max_length=64)

    def __str__(self):
        return f"chain {self.chain} at #{self.last_sequence}"


class AuditPurgePermit(models.Model):
    """Present only inside the retention purge's transaction; the delete trigger refuses without it."""

    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"purge permit of {self.created:%Y-%m-%d %H:%M}"


DEFAULT_RETENTION_DAYS = {"api_call": 90}  # every other category: DEFAULT_RETENTION_OTHER_DAYS
DEFAULT_RETENTION_OTHER_DAYS = 400


class RetentionPolicy(models.Model):
    """How long an organization keeps its audit events, per category, and whether a legal hold stops deletion."""

    organization = models.OneToOneField("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    category_days = models.JSONField(
        default=dict, blank=True, help_text='Days to keep each category, e.g. {"api_call": 90, "security": 730}.'
    )
    legal_hold = models.BooleanField(default=False, help_text="While on, the retention purge deletes nothing.")
    legal_hold_reason = models.CharField(max_length=500, blank=True)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"audit retention of {self.organization_id}"

    def days_for(self, category: str) -> int:
        default = DEFAULT_RETENTION_DAYS.get(category, DEFAULT_RETENTION_OTHER_DAYS)
        return int(self.category_days.get(category, default))


class AuditCheckpoint(models.Model):
    """A signed statement of a chain's head: sequence, hash, event count and time, signed with Ed25519.

    Made daily and at every retention cut. With the public key, anyone can check an exported range against it
    without the database or the HMAC key.
    """

    organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    chain = models.BigIntegerField()
    sequence = models.BigIntegerField()
    head_hash = models.CharField(max_length=64)
    event_count = models.BigIntegerField(help_text="Events in the chain up to this sequence, purged ones included.")
    created_at = models.DateTimeField()
    key_id = models.CharField(max_length=32)
    signature = models.CharField(max_length=128)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain", "sequence"], name="audit_checkpoint_chain_sequence")]
        ordering = ["chain", "-sequence"]

    def __str__(self):
        return f"checkpoint of chain {self.chain} at #{self.sequence}"


from chatapp.kernel.encryption import EncryptedTextField  # noqa: E402  (appended section: the streaming destinations)
from chatapp.kernel.models import TenantModel  # noqa: E402


class StreamKind(models.TextChoices):
    WEBHOOK = "webhook", "HTTPS webhook"
    SYSLOG = "syslog", "Syslog (RFC 5424 over TCP)"


class StreamDestination(TenantModel):
    """Where an organization's audit events are streamed (a SIEM's webhook or syslog collector), and how far.

    Delivery keeps one cursor per chain of the organization: `cursor` is the last sequence of its main chain and
    `api_cursor` the last of its API-call chain that the receiver accepted (or that the category filter skipped).
    Sequences, not event ids: within a chain they are gap-free and in commit order (rows are sealed under the
    chain's lock), while ids of the two chains may commit out of order, which a single id cursor would skip.
    """

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=StreamKind.choices)
    enabled = models.BooleanField(default=True)
    categories = models.JSONField(
        default=list, blank=True, help_text='Event categories to send, e.g. ["security"]; empty sends all.'
    )
    # webhook
    url = models.URLField(max_length=2000, blank=True, help_text="https:// URL the events are POSTed to.")
    signing_secret = EncryptedTextField(
        null=True,
        blank=True,
        help_text="HMAC-SHA256 key of the X-Chatapp-Signature header. Never returned by the API, audited or logged.",
    )
    encryption_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # syslog
    host = models.CharField(max_length=255, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    use_tls = models.BooleanField(default=True)
    # delivery state
    cursor = models.BigIntegerField(default=0, help_text="Last sequence of the main chain handled.")
    api_cursor = models.BigIntegerField(default=0, help_text="Last sequence of the API-call chain handled.")
    delivered_count = models.BigIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="Backing off until then.")
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="A delivery run holds the destination until then (one sender at a time)."
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="audit_stream_org_name")]
        ordering = ["organization", "name"]

    def __str__(self):
        return self.name

    @property
    def secret_hint(self) -> str:
        """What the API and admin show instead of the secret."""
        secret = self.signing_secret
        if not secret:
            return ""
        return "****" + secret[-4:] if len(secret) >= 24 else "****"


# --- redaction of personal data (data-subject erasure) ------------------------------------------------------------


class AuditRedactionPermit(models.Model):
    """Present only inside audit.redaction's transaction; the update trigger refuses any UPDATE without it, and
    even with it refuses a change to anything but the personal-data columns (labels, changes, metadata, ip,
    user agent)."""

    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"redaction permit of {self.created:%Y-%m-%d %H:%M}"


class AuditRedaction(models.Model):
    """Proof that one event's personal data was rewritten by the audited erasure path (audit/redaction.py).

    The event keeps its original `hash`, so the next event still links to it and signed checkpoints stay valid;
    `seal` is an HMAC of the redacted content bound to that original hash, made when the original was verified.
    Verification checks a redacted event against `seal` instead of its own hash: only the holder of the audit HMAC
    key, going through the redaction path, can produce one.
    """

    # The event by its place in its chain, not a foreign key: the retention purge's fast DELETE of events stays a
    # plain DELETE, and it removes the redactions of the events it purges itself.
    chain = models.BigIntegerField()
    sequence = models.BigIntegerField()
    redacted_at = models.DateTimeField()
    reason = models.CharField(max_length=200)
    key_id = models.CharField(max_length=32)
    seal = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain", "sequence"], name="audit_redaction_chain_sequence")]

    def __str__(self):
        return f"redaction of chain {self.chain} #{self.sequence}"
