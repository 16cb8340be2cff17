from rest_framework import serializers

from chatapp.kernel.api import StrictSerializer
from reports.models import Delivery, DeliveryTarget, PdfVariant, Period, Report, ReportRun, Schedule, Trigger, Weekday


class SectionSerializer(serializers.Serializer):
    type = serializers.CharField()
    title = serializers.CharField(required=False, allow_blank=True)
    params = serializers.DictField(required=False)


class ReportSerializer(serializers.ModelSerializer):
    sections = SectionSerializer(many=True)

    class Meta:
        model = Report
        fields = ["id", "title", "description", "period", "custom_start", "custom_end", "sections", "pdf_variant",
                  "template", "version", "created", "updated"]  # fmt: skip


class ReportCreateSerializer(StrictSerializer):
    template = serializers.CharField(required=False, allow_blank=True, help_text="A shipped template's key.")
    title = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    period = serializers.ChoiceField(choices=Period.choices, required=False)
    custom_start = serializers.DateField(required=False, allow_null=True)
    custom_end = serializers.DateField(required=False, allow_null=True)
    sections = SectionSerializer(many=True, required=False)
    pdf_variant = serializers.ChoiceField(choices=PdfVariant.choices, required=False)


class ReportUpdateSerializer(StrictSerializer):
    title = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    period = serializers.ChoiceField(choices=Period.choices, required=False)
    custom_start = serializers.DateField(required=False, allow_null=True)
    custom_end = serializers.DateField(required=False, allow_null=True)
    sections = SectionSerializer(many=True, required=False)
    pdf_variant = serializers.ChoiceField(choices=PdfVariant.choices, required=False)


class RunSerializer(serializers.ModelSerializer):
    tables = serializers.SerializerMethodField()

    class Meta:
        model = ReportRun
        fields = ["id", "report", "version", "status", "progress", "page_count", "size_bytes", "period_start",
                  "period_end", "created", "finished", "expires_at", "error", "tables"]  # fmt: skip

    def get_tables(self, run) -> list[dict]:
        """The table sections, downloadable as CSV or JSON: /report-runs/{id}/tables/{index}.csv"""
        return [{"index": i, "title": s["title"]} for i, s in enumerate((run.data or {}).get("sections", []))
                if "rows" in s["data"]]  # fmt: skip


class RecipientField(serializers.ListField):
    child = serializers.CharField(max_length=254)


class ScheduleSerializer(serializers.ModelSerializer):
    recipients = serializers.SerializerMethodField()

    class Meta:
        model = Schedule
        fields = ["id", "report", "owner", "frequency", "time_of_day", "timezone", "weekdays", "day_of_month",
                  "ordinal", "ordinal_day", "attach_csv", "is_paused", "next_run_at", "recipients",
                  "created"]  # fmt: skip

    def get_recipients(self, schedule) -> list[dict]:
        return [{"email": r.email, "unsubscribed_at": r.unsubscribed_at} for r in schedule.recipients.all()]


class ScheduleWriteSerializer(StrictSerializer):
    report = serializers.IntegerField(required=False)
    frequency = serializers.ChoiceField(choices=Schedule.Frequency.choices, required=False)
    time_of_day = serializers.TimeField(required=False)
    timezone = serializers.CharField(required=False, max_length=64)
    weekdays = serializers.ListField(child=serializers.IntegerField(min_value=0, max_value=6), required=False)
    day_of_month = serializers.IntegerField(required=False, allow_null=True)
    ordinal = serializers.IntegerField(required=False, allow_null=True)
    ordinal_day = serializers.ChoiceField(choices=Weekday.choices, required=False, allow_null=True)
    attach_csv = serializers.BooleanField(required=False)
    is_paused = serializers.BooleanField(required=False)
    recipients = RecipientField(required=False)


class PreviewSerializer(serializers.Serializer):
    next_runs = serializers.ListField(child=serializers.DateTimeField())


class TriggerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Trigger
        fields = ["id", "name", "owner", "report", "metric", "window_minutes", "direction", "threshold",
                  "clear_threshold", "duration_minutes", "cooldown_minutes", "is_active", "state", "breach_since",
                  "last_value", "last_evaluated_at", "last_fired_at", "created"]  # fmt: skip


class TriggerWriteSerializer(StrictSerializer):
    name = serializers.CharField(required=False, max_length=200)
    report = serializers.IntegerField(required=False, allow_null=True)
    metric = serializers.CharField(required=False)
    window_minutes = serializers.IntegerField(required=False, min_value=1, max_value=7 * 24 * 60)
    direction = serializers.ChoiceField(choices=Trigger.Direction.choices, required=False)
    threshold = serializers.FloatField(required=False)
    clear_threshold = serializers.FloatField(required=False)
    duration_minutes = serializers.IntegerField(required=False, min_value=0, max_value=7 * 24 * 60)
    cooldown_minutes = serializers.IntegerField(required=False, min_value=0, max_value=30 * 24 * 60)
    is_active = serializers.BooleanField(required=False)
    recipients = RecipientField(required=False)


class TargetSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryTarget
        fields = ["kind", "address", "status", "message_id", "size_bytes", "attempts", "error", "sent_at"]


class DeliverySerializer(serializers.ModelSerializer):
    targets = TargetSerializer(many=True)

    class Meta:
        model = Delivery
        fields = ["id", "kind", "report", "version", "schedule", "trigger", "slot", "status", "run", "summary",
                  "created", "targets"]  # fmt: skip
