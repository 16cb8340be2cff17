"""The plugin system's data: the catalogue (plugins and their versions), publishers and their signing keys,
per-organization installations with their settings, data and health, and marketplace feedback.

A plugin's code is never here: built-in plugins are Python modules (plugins.registry), marketplace plugins are
WebAssembly components kept in the package store (plugins.packages) under their SHA-256.
"""

import uuid

from django.conf import settings as django_settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from chatapp.kernel.encryption import EncryptedJSONField
from chatapp.kernel.models import TenantModel


class Publisher(models.Model):
    """Who publishes plugins: a company with Ed25519 signing keys. An organization's plugins.publish holders
    manage its publisher; the operator marks publishers verified (the badge in listings)."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=120)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="+",
        help_text="The organization whose members with plugins.publish manage this publisher.",
    )  # fmt: skip
    verified = models.BooleanField(default=False, help_text="Checked by the operator (shown as a badge).")
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.slug


class PublisherKey(models.Model):
    """An Ed25519 public key a publisher signs packages with. Rotation adds a key and retires the old one (its
    approved versions stay installable); revocation (a key that leaked) refuses everything it signed."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired (no new uploads)"
        REVOKED = "revoked", "Revoked"

    publisher = models.ForeignKey(Publisher, on_delete=models.CASCADE, related_name="keys")
    key_id = models.CharField(max_length=32, unique=True, help_text="First 32 hex digits of the key's SHA-256.")
    public_key = models.CharField(max_length=64, help_text="The raw 32-byte public key, base64.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    created = models.DateTimeField(default=timezone.now, editable=False)
    status_changed = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["publisher", "-created"]

    def __str__(self):
        return f"{self.publisher.slug}:{self.key_id}"


class Plugin(models.Model):
    """One plugin (all its versions). Built-in plugins have no publisher row; a private plugin is visible to,
    and installable by, its own organization only."""

    class Kind(models.TextChoices):
        BUILTIN = "builtin", "Built-in"
        WASM = "wasm", "Sandboxed (WebAssembly)"

    plugin_id = models.CharField(max_length=100, unique=True, help_text="Reverse-DNS id, e.g. com.example.echo.")
    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    publisher = models.ForeignKey(Publisher, null=True, blank=True, on_delete=models.PROTECT, related_name="plugins")
    private_to = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        help_text="A private plugin: only this organization sees and installs it.",
    )  # fmt: skip
    category = models.CharField(max_length=40, blank=True)
    description = models.TextField(blank=True)
    capabilities = models.JSONField(default=list, help_text="Of the latest approved version (for filtering).")
    install_count = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.plugin_id


class PluginVersion(models.Model):
    """One version of a plugin with its manifest, package and place in the approval workflow."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        SCANNED = "scanned", "Scanned"
        IN_REVIEW = "in_review", "In review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        YANKED = "yanked", "Yanked"

    plugin = models.ForeignKey(Plugin, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=64)
    manifest = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SUBMITTED)
    package_sha256 = models.CharField(max_length=64, blank=True)
    package_size = models.PositiveIntegerField(default=0)
    wasm_sha256 = models.CharField(max_length=64, blank=True, help_text="The component, in the package store.")
    signature = models.CharField(max_length=100, blank=True, help_text="Ed25519 over the package's SHA-256, base64.")
    key = models.ForeignKey(PublisherKey, null=True, blank=True, on_delete=models.PROTECT, related_name="versions")
    unsigned_dev = models.BooleanField(default=False, help_text="Accepted unsigned because development mode was on.")
    scan_report = models.JSONField(default=dict, blank=True)
    submitted_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_reason = models.TextField(blank=True)
    deprecated = models.BooleanField(default=False)
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["plugin", "-created"]
        constraints = [models.UniqueConstraint(fields=["plugin", "version"], name="plugin_version_unique")]

    def __str__(self):
        return f"{self.plugin.plugin_id}@{self.version}"

    @property
    def capabilities(self) -> list[str]:
        return list(self.manifest.get("capabilities", []))


class Installation(TenantModel):
    """A plugin installed in one organization: the version it runs, what the admin consented to, its settings,
    the channels it may use, its service identity (a member the RBAC checks apply to) and its health."""

    plugin = models.ForeignKey(Plugin, on_delete=models.PROTECT, related_name="installations")
    version = models.ForeignKey(PluginVersion, on_delete=models.PROTECT, related_name="+")
    pending_version = models.ForeignKey(
        PluginVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="An upgrade that asks for capabilities not yet consented to waits here.",
    )  # fmt: skip
    consented_capabilities = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    pinned = models.BooleanField(default=False, help_text="Automatic upgrades leave a pinned version alone.")
    disabled_reason = models.CharField(max_length=300, blank=True)
    settings = models.JSONField(default=dict, blank=True, help_text="Non-secret settings.")
    secrets = EncryptedJSONField(default=dict, blank=True, per_org=True)
    encryption_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    service_user = models.OneToOneField(django_settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    channels = models.ManyToManyField("chat.Channel", blank=True, related_name="+")
    installed_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    installed_at = models.DateTimeField(default=timezone.now, editable=False)
    # health and metrics
    calls = models.PositiveBigIntegerField(default=0)
    errors = models.PositiveBigIntegerField(default=0)
    latency_us_total = models.PositiveBigIntegerField(default=0)
    fuel_total = models.PositiveBigIntegerField(default=0)
    recent_failures = models.JSONField(default=list, blank=True, help_text="Times of failures in the window.")
    last_error = models.CharField(max_length=300, blank=True)
    last_called_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "plugin"], name="installation_unique")]
        ordering = ["plugin__name"]

    def __str__(self):
        return f"{self.plugin.plugin_id}@{self.version.version} in {self.organization.slug}"


class PluginData(TenantModel):
    """A plugin's key-value store in one organization (kept or removed at uninstall, as the admin chooses)."""

    plugin = models.ForeignKey(Plugin, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    value = models.TextField()
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "plugin", "key"], name="plugin_data_unique")]

    def __str__(self):
        return self.key


class ListingReview(TenantModel):
    """An org admin's rating and review of a listing (one per organization and plugin)."""

    plugin = models.ForeignKey(Plugin, on_delete=models.CASCADE, related_name="reviews")
    author = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    rating = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    text = models.TextField(blank=True, max_length=4000)
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "plugin"], name="listing_review_unique")]


class AbuseReport(TenantModel):
    """A listing reported for abuse, for the operator to look at."""

    plugin = models.ForeignKey(Plugin, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.TextField(max_length=4000)
    created = models.DateTimeField(default=timezone.now, editable=False)
    resolved = models.BooleanField(default=False)


class Component(TenantModel):
    """A UI component an organization built (plugins.components): kept private or published to the marketplace.
    Each saved change is a new version row; `published` versions are frozen."""

    class Output(models.TextChoices):
        CARD = "card", "Card (restricted Adaptive Card JSON)"
        HTML = "html", "Sanitized HTML"

    class Kind(models.TextChoices):
        MESSAGE_CARD = "message_card", "Message card"
        FORM = "form", "Form (slash command or message action)"
        LINK_PREVIEW = "link_preview", "Link preview"
        DASHBOARD_TILE = "dashboard_tile", "Dashboard tile"

    key = models.SlugField(max_length=60)
    version = models.PositiveIntegerField(default=1)
    name = models.CharField(max_length=80)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.MESSAGE_CARD)
    output = models.CharField(max_length=4, choices=Output.choices, default=Output.CARD)
    input_schema = models.JSONField(default=dict)
    template = models.JSONField(help_text="A card (JSON with Jinja in its strings) or an HTML template string.")
    samples = models.JSONField(default=list, help_text='[{"name", "input", "expected"}]: the snapshot tests.')
    published = models.BooleanField(default=False, help_text="Listed in the marketplace (frozen).")
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["key", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key", "version"], name="component_version_unique")
        ]

    def __str__(self):
        return f"{self.key} v{self.version}"
