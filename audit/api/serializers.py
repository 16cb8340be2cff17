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
