from datetime import timedelta

from django.utils import timezone
from rest_framework import serializers

from analytics.revenue.models import Source, Subscription, SubscriptionRevision, SubscriptionStatus
from analytics.revenue.selectors import INTERVALS, bucket_floor
from chatapp.kernel.api import StrictSerializer


class RangeSerializer(StrictSerializer):
    """A time range and bucket size; by default the last 12 months, monthly."""

    start = serializers.DateField(required=False, help_text="First day (its bucket is included). Default: a year ago.")
    end = serializers.DateField(required=False, help_text="Last day (its bucket is included). Default: today.")
    interval = serializers.ChoiceField(choices=INTERVALS, default="month")

    def validate(self, data):
        today = timezone.now().date()
        data.setdefault("end", today)
        data.setdefault("start", bucket_floor(data["end"] - timedelta(days=334), "month").date())
        if data["start"] > data["end"]:
            raise serializers.ValidationError({"start": ["Must not be after end."]})
        return data


class CsvTypeSerializer(RangeSerializer):
    type = serializers.ChoiceField(choices=["json", "csv"], default="json", help_text="csv downloads the table.")


class SummaryQuerySerializer(StrictSerializer):
    at = serializers.DateTimeField(required=False, help_text="As of this instant (default: now).")


class MrrPointSerializer(serializers.Serializer):
    bucket_start = serializers.DateTimeField()
    mrr = serializers.IntegerField()
    arr = serializers.IntegerField()


class MrrSeriesSerializer(serializers.Serializer):
    currency = serializers.CharField()
    interval = serializers.CharField()
    points = MrrPointSerializer(many=True)


def _ratio_field():
    return serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True, coerce_to_string=False)


class MovementSerializer(serializers.Serializer):
    bucket_start = serializers.DateTimeField()
    starting_mrr = serializers.IntegerField()
    new = serializers.IntegerField()
    expansion = serializers.IntegerField()
    contraction = serializers.IntegerField()
    churned = serializers.IntegerField()
    reactivation = serializers.IntegerField()
    fx = serializers.IntegerField(help_text="Change of the starting MRR's value from exchange rates alone.")
    net_new = serializers.IntegerField()
    ending_mrr = serializers.IntegerField()
    customers_start = serializers.IntegerField()
    customers_end = serializers.IntegerField()
    new_customers = serializers.IntegerField()
    reactivated_customers = serializers.IntegerField()
    churned_customers = serializers.IntegerField()
    logo_churn = _ratio_field()
    net_revenue_churn = _ratio_field()
    gross_revenue_churn = _ratio_field()
    net_revenue_retention = _ratio_field()


class MovementsSerializer(serializers.Serializer):
    currency = serializers.CharField()
    interval = serializers.CharField()
    rows = MovementSerializer(many=True)


class SummarySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    currency = serializers.CharField(help_text="Every amount is in minor units of this currency.")
    mrr = serializers.IntegerField()
    arr = serializers.IntegerField()
    customers = serializers.IntegerField(help_text="Customers with MRR now.")
    arpa = serializers.IntegerField(allow_null=True, help_text="Average revenue (MRR) per customer.")
    month = MovementSerializer(help_text="The last complete month's movements, churn and retention.")
    nrr_12m = _ratio_field()
    average_logo_churn = _ratio_field()
    ltv = serializers.IntegerField(allow_null=True, help_text="ARPA / average monthly logo churn; null without churn.")
    ltv_months = serializers.IntegerField(help_text="Months the churn of the LTV is averaged over.")
    collected = serializers.IntegerField(help_text="Successful charges of the last complete month.")
    refunded = serializers.IntegerField(help_text="Refunded of those charges.")


class SubscriptionFilterSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=SubscriptionStatus.choices, required=False)
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", required=False)
    plan = serializers.CharField(required=False, help_text="Plan external id (Stripe price id or CSV code).")
    customer = serializers.CharField(required=False, help_text="Customer external id.")
    organization = serializers.SlugField(required=False, help_text="Organization slug.")
    source = serializers.ChoiceField(choices=Source.choices, required=False)
    active_at = serializers.DateField(required=False, help_text="Started on or before, not ended by, this day.")
    cursor = serializers.CharField(required=False)
    page_size = serializers.CharField(required=False)


class SubscriptionSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id")
    customer_name = serializers.CharField(source="customer.name")
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    plan = serializers.CharField(source="plan.external_id", allow_null=True, default=None)
    plan_name = serializers.CharField(source="plan.name", allow_null=True, default=None)

    class Meta:
        model = Subscription
        fields = [
            "id", "external_id", "customer", "customer_name", "organization", "plan", "plan_name", "status", "seats",
            "currency", "amount", "interval", "interval_count", "mrr", "started_at", "trial_end",
            "cancel_at_period_end", "canceled_at", "ended_at", "source", "source_updated_at",
        ]  # fmt: skip


class RevisionSerializer(serializers.ModelSerializer):
    plan = serializers.CharField(source="plan.external_id", allow_null=True, default=None)

    class Meta:
        model = SubscriptionRevision
        fields = ["effective_at", "status", "currency", "mrr", "seats", "plan", "source_ref", "recorded_at"]


class SubscriptionDetailSerializer(SubscriptionSerializer):
    revisions = RevisionSerializer(many=True)

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "revisions"]


class WebhookResultSerializer(serializers.Serializer):
    received = serializers.BooleanField()
    status = serializers.CharField()
    duplicate = serializers.BooleanField()
