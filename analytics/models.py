"""Raw product events, their rollups with the fill state, ingestion keys, settings and dashboards."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from chatapp.kernel.models import TenantModel


class Client(models.TextChoices):
    WEB = "web", "Web"
    MOBILE = "mobile", "Mobile"
    API = "api", "API"
    SERVER = "server", "Server"


class Source(models.TextChoices):
    SERVER = "server", "track() in a service"
    API = "api", "Events API"
    POSTHOG = "posthog", "PostHog SDK"


class Event(models.Model):
    """One product event. Raw events are kept ANALYTICS_RETENTION_DAYS; dashboards never read them.

    On PostgreSQL the table is partitioned by month on `occurred_at` (the migration creates it; retention drops
    whole partitions). `person` is pseudonymous: a keyed hash of the user id (analytics.tracking.person_of), never
    the id itself, so the table alone does not say who did what. `uuid` de-duplicates client retries.
    """

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    uuid = models.UUIDField()
    person = models.BigIntegerField(default=0, help_text="Pseudonymous person number; 0 for none (system).")
    channel_id = models.BigIntegerField(null=True, blank=True)
    client = models.CharField(max_length=16, choices=Client.choices, default=Client.SERVER)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.SERVER)
    ip = models.GenericIPAddressField(null=True, blank=True, help_text="Truncated: /24 for IPv4, /48 for IPv6.")
    properties = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["occurred_at"], name="analytics_event_occurred"),
            models.Index(fields=["received_at"], name="analytics_event_received"),
        ]
        constraints = [
            # A client retry carries the same uuid and timestamp; the partition key must be part of the key.
            models.UniqueConstraint(fields=["organization", "uuid", "occurred_at"], name="analytics_event_uuid")
        ]

    def __str__(self):
        return f"{self.name} at {self.occurred_at:%Y-%m-%d %H:%M}"


class RollupCount(models.Model):
    """A value of a stat for one bucket (an hour or a day) and one object: the organization (object_id 0), a
    channel or a person, with an optional subgroup (client, event name). Instance-wide rows have no organization.
    """

    stat = models.CharField(max_length=60)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    object_id = models.BigIntegerField(default=0)
    subgroup = models.CharField(max_length=100, default="", blank=True)
    bucket = models.DateTimeField(help_text="Start of the hour or day (UTC).")
    value = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["stat", "organization", "bucket"], name="analytics_rollup_org"),
            models.Index(fields=["stat", "bucket"], name="analytics_rollup_bucket"),
        ]

    def __str__(self):
        return f"{self.stat} {self.bucket:%Y-%m-%d %H:%M} = {self.value}"


class FillState(models.Model):
    """How far each stat is filled. Every bucket is written (delete, insert, advance) in one transaction, so a
    crash leaves the stat at the last complete bucket and the next run continues from there."""

    class State(models.TextChoices):
        DONE = "done", "Done"
        RUNNING = "running", "Running"

    stat = models.CharField(max_length=60, primary_key=True)
    filled_until = models.DateTimeField(help_text="End of the last complete bucket written.")
    late_since = models.DateTimeField(help_text="Events received after this are checked for late arrivals.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.DONE)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["stat"]

    def __str__(self):
        return f"{self.stat} until {self.filled_until:%Y-%m-%d %H:%M}"


class AnalyticsSettings(models.Model):
    """Per-organization analytics policy: an organization that opts out records no product events at all."""

    organization = models.OneToOneField(
        "accounts.Organization", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    enabled = models.BooleanField(default=True, help_text="Record product events for this organization.")
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "analytics settings"

    def __str__(self):
        return f"analytics {'on' if self.enabled else 'off'}"


class IngestKey(TenantModel):
    """A key that lets the organization's apps send events through the PostHog-compatible ingest.

    It is a *project key* (it ships inside web and mobile apps), so it only allows writing events; only its
    SHA-256 is stored, and the prefix identifies it in lists.
    """

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"


class Dashboard(TenantModel):
    """A named set of tiles. Shared through RBAC: `dashboards.view`/`dashboards.edit` org-wide or granted on one
    dashboard to a user or a team. `builtin` marks the organization overview (recreated if deleted)."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    builtin = models.CharField(max_length=40, blank=True, default="")
    default_range_days = models.PositiveIntegerField(default=30)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "builtin"], condition=~models.Q(builtin=""), name="analytics_dashboard_builtin"
            )
        ]

    def __str__(self):
        return self.name


class Tile(TenantModel):
    """An insight on a dashboard: a metric of the catalogue, drawn as a number, a line, bars or a table."""

    class ChartType(models.TextChoices):
        NUMBER = "number", "Number with change"
        LINE = "line", "Line"
        BAR = "bar", "Bars"
        TABLE = "table", "Table"

    class Interval(models.TextChoices):
        HOUR = "hour", "Hour"
        DAY = "day", "Day"
        WEEK = "week", "Week"
        MONTH = "month", "Month"

    dashboard = models.ForeignKey(Dashboard, on_delete=models.CASCADE, related_name="tiles")
    title = models.CharField(max_length=200)
    metric = models.CharField(max_length=80)
    chart = models.CharField(max_length=10, choices=ChartType.choices, default=ChartType.LINE)
    interval = models.CharField(max_length=10, choices=Interval.choices, default=Interval.DAY)
    range_days = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: the dashboard's range.")
    breakdown = models.CharField(max_length=40, blank=True, default="")
    filters = models.JSONField(default=dict, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.title
