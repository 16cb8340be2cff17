"""Revenue data of the instance: plans, customers, subscriptions with their MRR history, invoices, payments,
exchange rates and the log of Stripe webhook events.

These rows are the operator's (the company running chatapp), not a tenant's: they carry an optional link to the
organization a customer pays for, but no tenancy base. Amounts are integers in the currency's minor unit.

MRR comes from `SubscriptionRevision`: one row per known state of a subscription (from a Stripe event or a CSV
row), stamped with the time the state took effect. A subscription's MRR at an instant is that of its latest
revision at or before the instant, so events that arrive late or out of order still land in the right month,
and a revision is unique per source (event id or CSV key), so a duplicate delivery writes nothing new.
"""

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

currency_validator = RegexValidator(r"^[A-Z]{3}$", "A three-letter ISO 4217 code in capitals, such as USD.")


class Source(models.TextChoices):
    STRIPE = "stripe", "Stripe"
    CSV = "csv", "CSV import"


class Interval(models.TextChoices):
    DAY = "day", "Day"
    WEEK = "week", "Week"
    MONTH = "month", "Month"
    YEAR = "year", "Year"


class Plan(models.Model):
    """A recurring price (a Stripe Price, or a plan code used in CSV imports)."""

    external_id = models.CharField(max_length=255, unique=True, help_text="Stripe price id (price_...) or CSV code.")
    name = models.CharField(max_length=200, blank=True)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    unit_amount = models.BigIntegerField(
        validators=[MinValueValidator(0)], help_text="Price per seat and interval, in minor units (cents)."
    )
    interval = models.CharField(max_length=8, choices=Interval.choices, default=Interval.MONTH)
    interval_count = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    is_active = models.BooleanField(default=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    source_updated_at = models.DateTimeField(
        null=True, blank=True, help_text="Time of the newest event applied (older events never overwrite it)."
    )

    class Meta:
        ordering = ["name", "external_id"]

    def __str__(self):
        return self.name or self.external_id


class Customer(models.Model):
    """A paying account (a Stripe customer): the unit of logo counts, ARPA and churn.

    `organization` says which chatapp organization it pays for; it comes from the `org` metadata key on the
    Stripe customer or subscription, or is set by the operator in the admin."""

    external_id = models.CharField(max_length=255, unique=True, help_text="Stripe customer id (cus_...) or CSV key.")
    name = models.CharField(max_length=200, blank=True)
    organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=8, choices=Source.choices)
    source_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "external_id"]

    def __str__(self):
        return self.name or self.external_id


class SubscriptionStatus(models.TextChoices):
    # Stripe's statuses. Only active and past_due count towards MRR (a trial is not revenue yet).
    TRIALING = "trialing", "Trialing"
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Past due"
    UNPAID = "unpaid", "Unpaid"
    PAUSED = "paused", "Paused"
    INCOMPLETE = "incomplete", "Incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired", "Incomplete, expired"
    CANCELED = "canceled", "Canceled"


MRR_STATUSES = frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE})


class Subscription(models.Model):
    """A subscription's current state (the newest revision applied). History is in its revisions."""

    external_id = models.CharField(max_length=255, unique=True, help_text="Stripe subscription id (sub_...).")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="subscriptions")
    organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    plan = models.ForeignKey(
        Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="The first item's plan."
    )
    status = models.CharField(max_length=24, choices=SubscriptionStatus.choices)
    seats = models.PositiveIntegerField(default=0, help_text="Licensed quantity over all items.")
    currency = models.CharField(max_length=3, validators=[currency_validator])
    amount = models.BigIntegerField(default=0, help_text="Per interval, after discounts (minor units).")
    interval = models.CharField(max_length=8, choices=Interval.choices, default=Interval.MONTH)
    interval_count = models.PositiveSmallIntegerField(default=1)
    mrr = models.BigIntegerField(default=0, help_text="Monthly recurring revenue now, in the subscription's currency.")
    started_at = models.DateTimeField()
    trial_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    canceled_at = models.DateTimeField(null=True, blank=True, help_text="When the cancellation was asked for.")
    ended_at = models.DateTimeField(null=True, blank=True, help_text="When the subscription stopped.")
    source = models.CharField(max_length=8, choices=Source.choices)
    source_updated_at = models.DateTimeField(help_text="Time of the newest state applied.")

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["status", "started_at"])]
        # The instance-wide permission of revenue analytics: `user.has_perm("revenue.read")` (docs/revenue.md).
        permissions = [
            ("read", "Read the instance's revenue analytics"),
            ("manage", "Change revenue data: plans, exchange rates, customer links, imports, webhook reprocessing"),
        ]

    def __str__(self):
        return self.external_id


class SubscriptionItem(models.Model):
    """One priced line of a subscription (Stripe subscriptions may have several: a plan plus add-ons)."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="items")
    external_id = models.CharField(max_length=255)
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(default=1)
    unit_amount = models.BigIntegerField(help_text="Minor units per interval and seat.")
    metered = models.BooleanField(default=False, help_text="Usage-based items are not recurring revenue.")

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["subscription", "external_id"], name="revenue_item_unique")]

    def __str__(self):
        return self.external_id


class SubscriptionRevision(models.Model):
    """One state of a subscription and the time it took effect: the history MRR is computed from.

    `source_ref` identifies where the state came from (a Stripe event id, or `csv:<effective date>`), unique
    per subscription, so a second delivery of the same event adds nothing. `effective_at` is the object's
    own time (the event's creation, the subscription's start or end), never the time we received it."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="revisions")
    source_ref = models.CharField(max_length=255)
    effective_at = models.DateTimeField()
    status = models.CharField(max_length=24, choices=SubscriptionStatus.choices)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    mrr = models.BigIntegerField(help_text="MRR from this instant, in `currency` minor units (0 when not counted).")
    seats = models.PositiveIntegerField(default=0)
    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["effective_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "source_ref"], name="revenue_revision_unique_source")
        ]
        indexes = [models.Index(fields=["effective_at"])]

    def __str__(self):
        return f"{self.subscription_id} @ {self.effective_at:%Y-%m-%d %H:%M}"


class Invoice(models.Model):
    """A Stripe invoice (what was billed for a period)."""

    external_id = models.CharField(max_length=255, unique=True)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="invoices")
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.SET_NULL, related_name="invoices"
    )
    number = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=24, help_text="draft, open, paid, void or uncollectible")
    currency = models.CharField(max_length=3, validators=[currency_validator])
    total = models.BigIntegerField(default=0)
    amount_paid = models.BigIntegerField(default=0)
    amount_due = models.BigIntegerField(default=0)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    source_updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.number or self.external_id


class Payment(models.Model):
    """A Stripe charge: money collected, and what was refunded of it."""

    external_id = models.CharField(max_length=255, unique=True)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.SET_NULL, related_name="payments")
    status = models.CharField(max_length=24, help_text="succeeded, pending or failed")
    currency = models.CharField(max_length=3, validators=[currency_validator])
    amount = models.BigIntegerField(default=0)
    amount_refunded = models.BigIntegerField(default=0)
    created_at = models.DateTimeField()
    source_updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.external_id


class ExchangeRate(models.Model):
    """How many units of the reporting currency one unit of `currency` was worth from `valid_from` on.

    The rate used for a day is the newest one dated on or before it; the operator keeps them in the admin."""

    currency = models.CharField(max_length=3, validators=[currency_validator])
    reporting_currency = models.CharField(max_length=3, validators=[currency_validator])
    valid_from = models.DateField()
    rate = models.DecimalField(max_digits=20, decimal_places=10, validators=[MinValueValidator(0)])
    note = models.CharField(max_length=200, blank=True, help_text="Where the rate comes from (e.g. ECB reference).")

    class Meta:
        ordering = ["currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["currency", "reporting_currency", "valid_from"], name="revenue_rate_unique_day"
            ),
            models.CheckConstraint(condition=models.Q(rate__gt=0), name="revenue_rate_positive"),
        ]

    def __str__(self):
        return f"1 {self.currency} = {self.rate.normalize()} {self.reporting_currency} from {self.valid_from}"


class WebhookEvent(models.Model):
    """Every Stripe event received with a valid signature, once (by event id), and what processing made of it."""

    class Status(models.TextChoices):
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (type not used)"
        FAILED = "failed", "Failed"

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    created_at = models.DateTimeField(help_text="When Stripe created the event.")
    livemode = models.BooleanField(default=False)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    deliveries = models.PositiveIntegerField(default=1, help_text="Times Stripe delivered it (duplicates included).")

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["status", "received_at"])]

    def __str__(self):
        return f"{self.event_id} ({self.type})"


class CsvImport(models.Model):
    """One CSV import of subscriptions: who, what file, and the outcome."""

    filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    rows = models.PositiveIntegerField(default=0)
    subscriptions_created = models.PositiveIntegerField(default=0)
    subscriptions_updated = models.PositiveIntegerField(default=0)
    imported_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-imported_at"]

    def __str__(self):
        return f"{self.filename} ({self.imported_at:%Y-%m-%d %H:%M})"
