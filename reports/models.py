"""Reports: definitions (versioned), on-demand runs, schedules, threshold triggers and the delivery log."""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from chatapp.kernel.models import TenantModel

_now = timezone.now  # `timezone` is also a field name below


class Period(models.TextChoices):
    DAY = "day", "Last day"
    WEEK = "week", "Last week"
    MONTH = "month", "Last month"
    QUARTER = "quarter", "Last quarter"
    CUSTOM = "custom", "Custom range"


class PdfVariant(models.TextChoices):
    # Tagged PDF for screen readers, or PDF/A-3b for archiving (WeasyPrint variants).
    ACCESSIBLE = "pdf/ua-1", "Tagged PDF (PDF/UA-1, screen readers)"
    ARCHIVE = "pdf/a-3b", "PDF/A-3b (archiving)"


class Report(TenantModel):
    """A report definition: title, period and ordered sections. Every change bumps `version` and keeps a copy."""

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    period = models.CharField(max_length=16, choices=Period.choices, default=Period.WEEK)
    custom_start = models.DateField(null=True, blank=True)
    custom_end = models.DateField(null=True, blank=True, help_text="Inclusive.")
    # [{"type": "metric", "title": "...", "params": {...}}, ...] validated against the section registry.
    sections = models.JSONField(default=list)
    pdf_variant = models.CharField(max_length=16, choices=PdfVariant.choices, default=PdfVariant.ACCESSIBLE)
    template = models.CharField(max_length=64, blank=True, help_text="The shipped template it was made from.")
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(default=_now, editable=False)
    updated = models.DateTimeField(default=_now)

    class Meta:
        ordering = ["title", "id"]

    def __str__(self):
        return self.title


class ReportVersion(TenantModel):
    """A saved version of a report's definition: what a run or delivery of that version rendered."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    definition = models.JSONField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(default=_now, editable=False)

    class Meta:
        ordering = ["report", "-version"]
        constraints = [models.UniqueConstraint(fields=["report", "version"], name="report_version_unique")]

    def __str__(self):
        return f"{self.report_id} v{self.version}"


class ReportRun(TenantModel):
    """One rendering of a report version to PDF (on demand, or for a delivery), with its progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RENDERING = "rendering", "Rendering"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="runs")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    page_count = models.PositiveIntegerField(null=True, blank=True)
    size_bytes = models.PositiveIntegerField(null=True, blank=True)
    pdf_path = models.CharField(max_length=255, blank=True, help_text="Under REPORTS_FILES_DIR.")
    # Computed sections (numbers, tables, findings): the CSV/JSON downloads and email bodies read them.
    data = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created = models.DateTimeField(default=_now, editable=False)
    finished = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="After this the download is gone.")

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self):
        return f"run {self.pk} of {self.report_id}"


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"
    WEEKDAY = 7, "Weekday (Monday to Friday)"


class Schedule(TenantModel):
    """When a report is e-mailed, and to whom. Rendered with the permissions of its owner."""

    class Frequency(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"
        MONTHLY = "monthly", "Monthly"

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="schedules")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    frequency = models.CharField(max_length=16, choices=Frequency.choices)
    time_of_day = models.TimeField()
    timezone = models.CharField(max_length=64, default="UTC")
    # Daily and weekly: the weekdays it runs on (0 = Monday); empty for daily means every day.
    weekdays = models.JSONField(default=list, blank=True)
    # Monthly: a day of the month (1-31, -1 = the last day), or an ordinal rule ("first Monday", "last weekday").
    day_of_month = models.SmallIntegerField(null=True, blank=True)
    ordinal = models.SmallIntegerField(null=True, blank=True, help_text="1-4, or -1 for the last.")
    ordinal_day = models.SmallIntegerField(null=True, blank=True, choices=Weekday.choices)
    attach_csv = models.BooleanField(default=False, help_text="Attach each table section as CSV too.")
    is_paused = models.BooleanField(default=False)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created = models.DateTimeField(default=_now, editable=False)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["is_paused", "next_run_at"], name="report_schedule_due")]

    def __str__(self):
        return f"{self.report} ({self.get_frequency_display().lower()})"


class Recipient(TenantModel):
    """An address a schedule or trigger mails; `unsubscribe_nonce` makes each unsubscribe link usable once."""

    schedule = models.ForeignKey(Schedule, null=True, blank=True, on_delete=models.CASCADE, related_name="recipients")
    trigger = models.ForeignKey(
        "reports.Trigger", null=True, blank=True, on_delete=models.CASCADE, related_name="recipients"
    )
    email = models.EmailField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    unsubscribe_nonce = models.CharField(max_length=64, default=secrets.token_hex)

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "email"], name="report_recipient_schedule_unique"),
            models.UniqueConstraint(fields=["trigger", "email"], name="report_recipient_trigger_unique"),
            models.CheckConstraint(
                condition=models.Q(schedule__isnull=True) ^ models.Q(trigger__isnull=True),
                name="report_recipient_one_owner",
            ),
        ]

    def __str__(self):
        return self.email


class Trigger(TenantModel):
    """Sends an alert (with its report, if any) when a metric crosses a threshold for a while.

    State: ok -> pending (breaching, waiting `duration`) -> firing (sent) -> ok once the value is back past
    `clear_threshold` (hysteresis). A new firing needs `cooldown` since the last one.
    """

    class Direction(models.TextChoices):
        ABOVE = "above", "Above"
        BELOW = "below", "Below"

    class State(models.TextChoices):
        OK = "ok", "OK"
        PENDING = "pending", "Breaching, waiting for the duration"
        FIRING = "firing", "Firing"

    name = models.CharField(max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    report = models.ForeignKey(Report, null=True, blank=True, on_delete=models.SET_NULL, related_name="triggers")
    metric = models.CharField(max_length=64)
    window_minutes = models.PositiveIntegerField(default=60, help_text="The metric is summed over this window.")
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.ABOVE)
    threshold = models.FloatField()
    clear_threshold = models.FloatField(help_text="Back to OK only once the value is past this (hysteresis).")
    duration_minutes = models.PositiveIntegerField(default=15)
    cooldown_minutes = models.PositiveIntegerField(default=60)
    is_active = models.BooleanField(default=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.OK)
    breach_since = models.DateTimeField(null=True, blank=True)
    last_value = models.FloatField(null=True, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    last_fired_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=_now, editable=False)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class Delivery(TenantModel):
    """One sending of a report: a schedule's slot, a trigger's firing or a test. Unique per (schedule, slot), so
    a second beat, a retried task or a restarted worker cannot send a slot twice."""

    class Kind(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        TRIGGER = "trigger", "Threshold trigger"
        TEST = "test", "Test"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        PARTIAL = "partial", "Partly failed"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    report = models.ForeignKey(Report, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    version = models.PositiveIntegerField(null=True, blank=True, help_text="The report version it rendered.")
    schedule = models.ForeignKey(Schedule, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    trigger = models.ForeignKey(Trigger, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    slot = models.DateTimeField(help_text="The scheduled time (UTC) it stands for, or when a trigger fired.")
    run = models.ForeignKey(ReportRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    summary = models.TextField(blank=True, help_text="What a trigger saw when it fired.")
    # Set by the beat tick that inserted the row: it dispatches only the rows it claimed (see schedules.py).
    claim = models.CharField(max_length=32, blank=True, db_index=True)
    created = models.DateTimeField(default=_now, editable=False)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "slot"],
                condition=models.Q(schedule__isnull=False, kind="scheduled"),
                name="report_delivery_once_per_slot",
            )
        ]

    def __str__(self):
        return f"delivery {self.pk} ({self.kind} {self.slot:%Y-%m-%d %H:%M})"


class DeliveryTarget(TenantModel):
    """The delivery log, one row per destination: e-mail today; Slack, Teams and webhooks add kinds later."""

    class Kind(models.TextChoices):
        EMAIL = "email", "E-mail"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        RETRYING = "retrying", "Retrying"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped (unsubscribed)"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="targets")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.EMAIL)
    address = models.CharField(max_length=320)
    recipient = models.ForeignKey(Recipient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    message_id = models.CharField(max_length=255, blank=True)
    size_bytes = models.PositiveIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["delivery", "address"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "kind", "address"], name="report_target_once_per_delivery")
        ]

    def __str__(self):
        return f"{self.kind}:{self.address}"


class ReportSettings(TenantModel):
    """Per-organization policy: which outside domains may receive reports (none by default)."""

    external_domains = models.JSONField(
        default=list, blank=True, help_text="Domains outside the organization that may receive reports."
    )

    class Meta:
        verbose_name_plural = "report settings"
        constraints = [models.UniqueConstraint(fields=["organization"], name="report_settings_one_per_org")]

    def __str__(self):
        return f"report settings of {self.organization_id}"
