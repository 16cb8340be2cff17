from datetime import timedelta

from django.utils import timezone
from rest_framework import serializers

from analytics.observability.models import ErrorIssue, ErrorProject, IssueStatus
from analytics.observability.selectors import ENDPOINT_ORDERS, INTERVALS, SERIES
from chatapp.kernel.api import StrictSerializer

MAX_POINTS = 24 * 93  # an hourly series of a quarter, or a daily one of six years


class ErrorProjectSerializer(serializers.ModelSerializer):
    dsn = serializers.SerializerMethodField(help_text="Give this to the Sentry SDK (`dsn=`).")

    class Meta:
        model = ErrorProject
        fields = ["id", "name", "platform", "is_active", "rate_limit_per_minute", "alert_emails", "alert_webhook_url",
                  "public_key", "dsn", "created"]  # fmt: skip
        read_only_fields = fields

    def get_dsn(self, project) -> str:
        request = self.context.get("request")
        origin = request.build_absolute_uri("/").rstrip("/") if request is not None else "https://chatapp.example"
        scheme, _, host = origin.partition("://")
        return f"{scheme}://{project.public_key}@{host}/ingest/sentry/{project.pk}"


class ErrorProjectCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    platform = serializers.CharField(max_length=40, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)
    rate_limit_per_minute = serializers.IntegerField(min_value=1, max_value=100_000, required=False)
    alert_emails = serializers.ListField(child=serializers.EmailField(), max_length=20, required=False)
    alert_webhook_url = serializers.URLField(max_length=2000, required=False, allow_blank=True)


class ErrorProjectUpdateSerializer(ErrorProjectCreateSerializer):
    name = serializers.CharField(max_length=100, required=False)


class ErrorIssueSerializer(serializers.ModelSerializer):
    project = serializers.SerializerMethodField()

    class Meta:
        model = ErrorIssue
        fields = ["id", "title", "exception_type", "culprit", "level", "status", "times_seen", "users_affected",
                  "first_seen", "last_seen", "resolved_at", "last_release", "environment", "project"]  # fmt: skip
        read_only_fields = fields

    def get_project(self, issue) -> dict | None:
        return {"id": issue.project_id, "name": issue.project.name} if issue.project_id else None


class ErrorIssueDetailSerializer(ErrorIssueSerializer):
    fingerprint = serializers.CharField()
    latest_event = serializers.SerializerMethodField(help_text="The newest event, as stored (scrubbed).")
    hourly = serializers.SerializerMethodField(help_text="Events per hour over the last 24 hours.")

    class Meta(ErrorIssueSerializer.Meta):
        fields = [*ErrorIssueSerializer.Meta.fields, "fingerprint", "latest_event", "hourly"]
        read_only_fields = fields

    def get_latest_event(self, issue) -> dict | None:
        event = self.context.get("latest_event")
        if event is None:
            return None
        return {"event_id": event.event_id, "received": event.received, "release": event.release,
                "environment": event.environment, "data": event.data}  # fmt: skip

    def get_hourly(self, issue) -> list[dict]:
        return [{"start": start, "count": count} for start, count in self.context.get("hourly", [])]


class PeriodSerializer(StrictSerializer):
    """start/end (default: the last 24 hours), for reads over a period. Unknown query parameters are ignored."""

    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)

    def to_internal_value(self, data):
        known = {name: data[name] for name in self.fields if name in data}
        return serializers.Serializer.to_internal_value(self, known)

    def validate(self, attrs):
        attrs["end"] = attrs.get("end") or timezone.now()
        attrs["start"] = attrs.get("start") or attrs["end"] - timedelta(days=1)
        if attrs["start"] >= attrs["end"]:
            raise serializers.ValidationError({"start": ["Must be before end."]})
        if attrs["end"] - attrs["start"] > timedelta(days=400):
            raise serializers.ValidationError({"start": ["A period is at most 400 days."]})
        return attrs


class EndpointsQuerySerializer(PeriodSerializer):
    source = serializers.ChoiceField(
        choices=["server", "sdk"], default="server", help_text="server: measured by chatapp; sdk: client SDKs"
    )
    order = serializers.ChoiceField(choices=sorted(ENDPOINT_ORDERS), default="p95")
    limit = serializers.IntegerField(min_value=1, max_value=500, default=50)


class SeriesQuerySerializer(PeriodSerializer):
    metric = serializers.ChoiceField(choices=sorted(SERIES), default="requests")
    interval = serializers.ChoiceField(choices=INTERVALS, default="hour")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        step = timedelta(days=1) if attrs["interval"] == "day" else timedelta(hours=1)
        if (attrs["end"] - attrs["start"]) / step > MAX_POINTS:
            raise serializers.ValidationError({"interval": [f"At most {MAX_POINTS} points: use a longer interval."]})
        return attrs


class SloQuerySerializer(StrictSerializer):
    days = serializers.IntegerField(min_value=1, max_value=90, default=30)

    def to_internal_value(self, data):
        return serializers.Serializer.to_internal_value(self, {k: data[k] for k in self.fields if k in data})


class IssueFilterSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=IssueStatus.choices, required=False)
    project = serializers.IntegerField(required=False)
    q = serializers.CharField(required=False, max_length=200)

    def to_internal_value(self, data):
        return serializers.Serializer.to_internal_value(self, {k: data[k] for k in self.fields if k in data})


class SeriesPointSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    value = serializers.FloatField(allow_null=True)
