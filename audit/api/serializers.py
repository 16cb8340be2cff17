from rest_framework import serializers

from audit.models import AuditCheckpoint, AuditEvent
from chatapp.kernel.api import StrictSerializer


class AuditEventSerializer(serializers.ModelSerializer):
    event = serializers.CharField(source="event_name")
    actor = serializers.SerializerMethodField()
    target = serializers.SerializerMethodField()
    request = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = [
            "id", "sequence", "occurred_at", "event", "event_code", "category", "outcome", "actor", "target",
            "changes", "metadata", "request", "hash",
        ]  # fmt: skip
        read_only_fields = fields

    def get_actor(self, event) -> dict:
        return {"type": event.actor_type, "id": event.actor_id, "label": event.actor_label}

    def get_target(self, event) -> dict | None:
        if not event.target_type:
            return None
        return {"type": event.target_type, "id": event.target_id, "label": event.target_label}

    def get_request(self, event) -> dict:
        return {
            "ip": event.ip,
            "user_agent": event.user_agent,
            "request_id": event.request_id,
            "session_ref": event.session_ref,
            "api_key_id": event.api_key_id,
        }


class ChainVerifySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "broken"])
    checked = serializers.IntegerField()
    first_broken_sequence = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    last_sequence = serializers.IntegerField()


class VerifySerializer(ChainVerifySerializer):
    """The organization's event chain; `api_calls` is its API-call chain. `status` is ok only if both are."""

    api_calls = ChainVerifySerializer()


class RetentionPolicySerializer(serializers.Serializer):
    category_days = serializers.DictField(child=serializers.IntegerField(), help_text="Days kept, per category.")
    legal_hold = serializers.BooleanField()
    legal_hold_reason = serializers.CharField(allow_blank=True)


class RetentionPolicyUpdateSerializer(StrictSerializer):
    category_days = serializers.DictField(child=serializers.IntegerField(min_value=1, max_value=36500), required=False)
    legal_hold = serializers.BooleanField(required=False)
    legal_hold_reason = serializers.CharField(max_length=500, allow_blank=True, required=False)


class CheckpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditCheckpoint
        fields = ["id", "chain", "sequence", "head_hash", "event_count", "created_at", "key_id", "signature"]
        read_only_fields = fields


class PeriodSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()

    def validate(self, attrs):
        if attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": ["Must be after since."]})
        return attrs


# --- streaming destinations ---------------------------------------------------------------------------------------

from drf_spectacular.utils import extend_schema_field  # noqa: E402

from audit.models import StreamDestination, StreamKind  # noqa: E402
from audit.registry import Category  # noqa: E402
from audit.streaming.services import destination_lag, url_for_display  # noqa: E402


class StreamKindField(serializers.ChoiceField):
    """webhook or syslog (a named enum in the schema through SPECTACULAR_SETTINGS' ENUM_NAME_OVERRIDES)."""

    def __init__(self, **kwargs):
        super().__init__(choices=StreamKind.choices, **kwargs)


class StreamStatusSerializer(serializers.Serializer):
    cursor = serializers.IntegerField(help_text="Last sequence of the main chain handled.")
    api_cursor = serializers.IntegerField(help_text="Last sequence of the API-call chain handled.")
    lag = serializers.IntegerField(help_text="Events recorded but not yet handled (before the category filter).")
    delivered_count = serializers.IntegerField()
    last_success_at = serializers.DateTimeField(allow_null=True)
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)
    consecutive_failures = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True, help_text="Backing off until then.")


class StreamDestinationSerializer(serializers.ModelSerializer):
    """A destination as shown: the signing secret never leaves the server, only a masked hint."""

    url = serializers.SerializerMethodField(help_text="The webhook URL; a query string shows as [redacted].")
    kind = StreamKindField(read_only=True)
    signing_secret_hint = serializers.CharField(source="secret_hint", read_only=True)
    status = serializers.SerializerMethodField()

    class Meta:
        model = StreamDestination
        fields = [
            "id", "name", "kind", "enabled", "categories", "url", "signing_secret_hint", "host", "port", "use_tls",
            "status", "created", "updated",
        ]  # fmt: skip
        read_only_fields = fields

    def get_url(self, destination) -> str:
        return url_for_display(destination.url)

    @extend_schema_field(StreamStatusSerializer)
    def get_status(self, destination) -> dict:
        heads = self.context.get("heads", {})
        return StreamStatusSerializer(
            {
                "cursor": destination.cursor,
                "api_cursor": destination.api_cursor,
                "lag": destination_lag(destination, heads),
                "delivered_count": destination.delivered_count,
                "last_success_at": destination.last_success_at,
                "last_attempt_at": destination.last_attempt_at,
                "last_error": destination.last_error,
                "consecutive_failures": destination.consecutive_failures,
                "next_attempt_at": destination.next_attempt_at,
            }
        ).data


class StreamDestinationUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100, required=False)
    kind = StreamKindField(required=False)
    enabled = serializers.BooleanField(required=False)
    categories = serializers.ListField(
        child=serializers.ChoiceField(choices=Category.choices), required=False, help_text="Empty: every category."
    )
    url = serializers.URLField(max_length=2000, required=False, allow_blank=True, help_text="https:// only.")
    signing_secret = serializers.CharField(
        max_length=200, required=False, write_only=True, trim_whitespace=False,
        help_text="HMAC-SHA256 key for X-Chatapp-Signature (24+ characters). Write-only: never returned.",
    )  # fmt: skip
    host = serializers.CharField(max_length=255, required=False, allow_blank=True, help_text="Syslog collector.")
    port = serializers.IntegerField(min_value=1, max_value=65535, required=False, allow_null=True)
    use_tls = serializers.BooleanField(required=False)


class StreamDestinationCreateSerializer(StreamDestinationUpdateSerializer):
    name = serializers.CharField(max_length=100)
    kind = StreamKindField()


class StreamTestResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    error = serializers.CharField(allow_blank=True)
