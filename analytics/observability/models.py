"""Error projects, issues and events; hourly performance histograms for endpoints and Celery tasks.

Performance rows are one per (scope, hour, endpoint) or (hour, task), never one per request: each process counts
into memory and adds its counts to these rows with an additive upsert (analytics/observability/perf.py).
"""

import secrets

from django.db import models
from django.db.models import Q

from analytics.observability.histogram import BUCKET_FIELDS


def new_public_key() -> str:
    return secrets.token_hex(16)


class ErrorProject(models.Model):
    """Where an organization's client apps send errors with the Sentry SDKs: one DSN per project.

    The public key is the DSN's user part. Like Sentry's, it is not a secret (browser and mobile apps ship it):
    it names the project, and the per-project quota bounds what a leaked DSN can cost. Rotate it if abused.
    """

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    platform = models.CharField(max_length=40, blank=True, help_text="python, javascript, android... (informative)")
    public_key = models.CharField(max_length=32, unique=True, default=new_public_key, editable=False)
    is_active = models.BooleanField(default=True, help_text="An inactive project refuses every envelope (403).")
    rate_limit_per_minute = models.PositiveIntegerField(
        default=600, help_text="Envelopes accepted per minute; beyond it the SDK is told to wait (429)."
    )
    alert_emails = models.JSONField(default=list, blank=True, help_text="Addresses told about new issues and spikes.")
    alert_webhook_url = models.URLField(max_length=2000, blank=True, help_text="https:// URL that receives alerts.")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization_id", "name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="errorproject_unique_name")]

    def __str__(self):
        return self.name


class IssueStatus(models.TextChoices):
    UNRESOLVED = "unresolved", "Unresolved"
    RESOLVED = "resolved", "Resolved"
    IGNORED = "ignored", "Ignored"
    REGRESSED = "regressed", "Regressed"


class ErrorIssue(models.Model):
    """Events grouped by fingerprint. `organization` and `project` are empty for chatapp's own server errors,
    which only the operator sees."""

    organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    project = models.ForeignKey(ErrorProject, null=True, blank=True, on_delete=models.CASCADE, related_name="issues")
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the grouping components.")
    title = models.CharField(max_length=255)
    exception_type = models.CharField(max_length=200, blank=True)
    culprit = models.CharField(max_length=255, blank=True, help_text="The innermost in-app frame.")
    level = models.CharField(max_length=20, default="error")
    status = models.CharField(max_length=20, choices=IssueStatus.choices, default=IssueStatus.UNRESOLVED)
    times_seen = models.PositiveBigIntegerField(default=0)
    users_affected = models.PositiveIntegerField(default=0)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    last_release = models.CharField(max_length=200, blank=True)
    environment = models.CharField(max_length=64, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_spike_alert_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "fingerprint"], name="errorissue_unique_fingerprint"),
            models.UniqueConstraint(
                fields=["fingerprint"], condition=Q(project__isnull=True), name="errorissue_unique_server_fingerprint"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "-last_seen"], name="errorissue_org_status"),
            models.Index(fields=["organization", "first_seen"], name="errorissue_org_first_seen"),
        ]

    def __str__(self):
        return self.title


class ErrorEvent(models.Model):
    """One occurrence, scrubbed before it was stored. `event_id` de-duplicates SDK retries per project."""

    issue = models.ForeignKey(ErrorIssue, on_delete=models.CASCADE, related_name="events")
    organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    project = models.ForeignKey(ErrorProject, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    event_id = models.CharField(max_length=32)
    received = models.DateTimeField(db_index=True)
    release = models.CharField(max_length=200, blank=True)
    environment = models.CharField(max_length=64, blank=True)
    user_hash = models.CharField(max_length=64, blank=True, help_text="Pseudonymous: an HMAC of the user id.")
    data = models.JSONField(help_text="The scrubbed event: exception, frames, request, tags.")

    class Meta:
        ordering = ["-received", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "event_id"], name="errorevent_unique_event_id"),
            models.UniqueConstraint(
                fields=["event_id"], condition=Q(project__isnull=True), name="errorevent_unique_server_event_id"
            ),
        ]
        indexes = [models.Index(fields=["issue", "-received"], name="errorevent_issue_received")]

    def __str__(self):
        return self.event_id


class ErrorIssueUser(models.Model):
    """The distinct (pseudonymous) users an issue reached: `users_affected` grows when a row is new."""

    issue = models.ForeignKey(ErrorIssue, on_delete=models.CASCADE, related_name="+")
    user_hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issue", "user_hash"], name="errorissueuser_unique")]

    def __str__(self):
        return f"{self.issue_id}: {self.user_hash[:12]}"


class ErrorIssueHour(models.Model):
    """Events per issue per hour: the error time series and the baseline spikes are measured against."""

    issue = models.ForeignKey(ErrorIssue, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    hour = models.DateTimeField()
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issue", "hour"], name="errorissuehour_unique")]
        indexes = [models.Index(fields=["organization", "hour"], name="errorissuehour_org_hour")]

    def __str__(self):
        return f"{self.issue_id} @ {self.hour:%Y-%m-%d %H:00}: {self.count}"


class EndpointHour(models.Model):
    """Requests to one endpoint in one hour: counts, errors, DB queries and a latency histogram (b0..b13).

    `scope` is the organization's id for requests resolved in an organization and 0 otherwise (an integer, not a
    nullable key, so the additive upsert has a unique key to conflict on); `source` is `server` for requests
    measured by our middleware and `sdk` for transactions that client SDKs reported.
    """

    scope = models.BigIntegerField(default=0, help_text="Organization id, or 0 for requests outside any.")
    source = models.CharField(max_length=10, default="server")
    hour = models.DateTimeField()
    route = models.CharField(max_length=255, help_text="METHOD + the resolved route pattern, never the raw path.")
    requests = models.PositiveBigIntegerField(default=0)
    errors = models.PositiveBigIntegerField(default=0, help_text="Responses with status 500 or above.")
    db_queries = models.PositiveBigIntegerField(default=0)
    duration_ms = models.FloatField(default=0.0, help_text="Sum of durations (for the mean).")
    locals().update({name: models.PositiveBigIntegerField(default=0) for name in BUCKET_FIELDS})

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "source", "hour", "route"], name="endpointhour_unique"),
        ]
        indexes = [models.Index(fields=["scope", "hour"], name="endpointhour_scope_hour")]

    def __str__(self):
        return f"{self.route} @ {self.hour:%Y-%m-%d %H:00}"


class TaskHour(models.Model):
    """Celery task runs in one hour: runs, failures, a duration histogram and queue lag (sent -> started)."""

    hour = models.DateTimeField()
    task = models.CharField(max_length=200)
    runs = models.PositiveBigIntegerField(default=0)
    failures = models.PositiveBigIntegerField(default=0)
    duration_ms = models.FloatField(default=0.0)
    lag_ms = models.FloatField(default=0.0, help_text="Sum of queue lags of runs that carried a send time.")
    lag_samples = models.PositiveBigIntegerField(default=0)
    lag_max_ms = models.FloatField(default=0.0)
    locals().update({name: models.PositiveBigIntegerField(default=0) for name in BUCKET_FIELDS})

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "task"], name="taskhour_unique")]

    def __str__(self):
        return f"{self.task} @ {self.hour:%Y-%m-%d %H:00}"
