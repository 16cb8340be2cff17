from rest_framework import serializers

from analytics.models import Dashboard, IngestKey, Tile
from chatapp.kernel.api import StrictSerializer


class RangeSerializer(serializers.Serializer):
    """Query parameters: a time range (start and end, or `range` such as 30d ending now) and the series' shape.
    Unknown query parameters are ignored, as list filters do."""

    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
    range = serializers.RegexField(r"^\d{1,3}d$", required=False, help_text="Days ending now, e.g. 30d.")
    interval = serializers.ChoiceField(choices=["hour", "day", "week", "month"], required=False)
    breakdown = serializers.CharField(required=False, allow_blank=True, max_length=40)
    metric = serializers.CharField(required=False, max_length=80, help_text="Default: active_users.")
    team = serializers.IntegerField(required=False, min_value=1)
    client = serializers.ChoiceField(choices=["web", "mobile", "api", "server"], required=False)
    channel = serializers.IntegerField(required=False, min_value=1)
    event = serializers.CharField(required=False, max_length=100)
    feature = serializers.CharField(required=False, max_length=40)


class EventBatchSerializer(StrictSerializer):
    events = serializers.ListField(
        child=serializers.JSONField(), help_text="Up to 1,000 events: {event, timestamp?, uuid?, properties?, client?}"
    )


class EventBatchResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    stored = serializers.IntegerField()
    rejected = serializers.IntegerField()
    opted_out = serializers.BooleanField()
    errors = serializers.ListField(child=serializers.DictField())


class AnalyticsSettingsSerializer(StrictSerializer):
    enabled = serializers.BooleanField()


class IngestKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = IngestKey
        fields = ["id", "name", "prefix", "created", "revoked_at", "last_used"]
        read_only_fields = fields


class IngestKeyCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)


class IngestKeyCreatedSerializer(IngestKeySerializer):
    key = serializers.CharField(help_text="The key itself: shown once, never again.")

    class Meta(IngestKeySerializer.Meta):
        fields = [*IngestKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class TileSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tile
        fields = ["id", "title", "metric", "chart", "interval", "range_days", "breakdown", "filters", "position"]
        read_only_fields = ["id"]


class TileInputSerializer(StrictSerializer):
    title = serializers.CharField(max_length=200)
    metric = serializers.CharField(max_length=80)
    chart = serializers.ChoiceField(choices=Tile.ChartType.choices, required=False)
    interval = serializers.ChoiceField(choices=Tile.Interval.choices, required=False)
    range_days = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=730)
    breakdown = serializers.CharField(required=False, allow_blank=True, max_length=40)
    filters = serializers.DictField(required=False)
    position = serializers.IntegerField(required=False, min_value=0)


class DashboardSerializer(serializers.ModelSerializer):
    tiles = serializers.SerializerMethodField()

    class Meta:
        model = Dashboard
        fields = ["id", "name", "description", "builtin", "default_range_days", "created", "updated", "tiles"]
        read_only_fields = fields

    def get_tiles(self, dashboard) -> list[dict]:
        return TileSerializer(dashboard.tiles.all(), many=True).data


class DashboardInputSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    default_range_days = serializers.IntegerField(required=False, min_value=1, max_value=730)
    tiles = TileInputSerializer(many=True, required=False)


class DuplicateSerializer(StrictSerializer):
    name = serializers.CharField(required=False, max_length=200, allow_blank=True)
