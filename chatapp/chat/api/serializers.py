from rest_framework import serializers

from accounts.api.serializers import UserSummarySerializer
from chatapp.chat.models import (
    RETENTION_MAX_DAYS,
    Channel,
    ChannelMember,
    LegalHold,
    Message,
    RetentionAction,
    RetentionRun,
)
from chatapp.chat.services import MESSAGE_MAX_LENGTH
from chatapp.kernel.api import StrictSerializer


class ChannelSerializer(serializers.ModelSerializer):
    is_member = serializers.BooleanField(read_only=True)
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Channel
        fields = ["id", "name", "topic", "is_private", "is_archived", "created", "is_member", "member_count"]
        read_only_fields = fields


class ChannelCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=80)
    topic = serializers.CharField(max_length=250, required=False, allow_blank=True, default="")
    is_private = serializers.BooleanField(required=False, default=False)


class ChannelUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=80, required=False)
    topic = serializers.CharField(max_length=250, required=False, allow_blank=True)
    is_private = serializers.BooleanField(required=False)


class ChannelMemberSerializer(serializers.ModelSerializer):
    user = UserSummarySerializer(read_only=True)

    class Meta:
        model = ChannelMember
        fields = ["id", "user", "added"]
        read_only_fields = fields


class ChannelMemberAddSerializer(StrictSerializer):
    user_id = serializers.IntegerField(min_value=1)


class MessageSerializer(serializers.ModelSerializer):
    author = UserSummarySerializer(read_only=True)
    channel = serializers.PrimaryKeyRelatedField(source="channel_id", read_only=True)

    class Meta:
        model = Message
        fields = ["id", "channel", "author", "body", "created", "edited"]
        read_only_fields = fields


class MessageWriteSerializer(StrictSerializer):
    body = serializers.CharField(max_length=MESSAGE_MAX_LENGTH, trim_whitespace=False)


# Message retention


class MessageRetentionOverrideSerializer(StrictSerializer):
    channel = serializers.IntegerField(min_value=1)
    days = serializers.IntegerField(
        min_value=1, max_value=RETENTION_MAX_DAYS, allow_null=True, help_text="null: the channel is kept for good."
    )


class MessageRetentionPolicyInputSerializer(StrictSerializer):
    """A whole policy (PUT), or the one to preview (POST .../preview)."""

    enabled = serializers.BooleanField()
    days = serializers.IntegerField(min_value=1, max_value=RETENTION_MAX_DAYS)
    action = serializers.ChoiceField(choices=RetentionAction.choices)
    overrides = MessageRetentionOverrideSerializer(
        many=True, required=False, help_text="Replaces the channel overrides; left out, they stay as they are."
    )


class MessageRetentionPreviewChannelSerializer(serializers.Serializer):
    channel = serializers.IntegerField()
    name = serializers.CharField()
    messages = serializers.IntegerField()


class MessageRetentionPreviewSerializer(serializers.Serializer):
    now = serializers.DateTimeField(help_text="The instant ages are measured from.")
    action = serializers.ChoiceField(choices=RetentionAction.choices)
    total = serializers.IntegerField()
    channels = MessageRetentionPreviewChannelSerializer(many=True)


class MessageRetentionOverrideOutputSerializer(serializers.Serializer):
    channel = serializers.IntegerField()
    days = serializers.IntegerField(allow_null=True)


class MessageRetentionPolicySerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    days = serializers.IntegerField()
    action = serializers.ChoiceField(choices=RetentionAction.choices)
    overrides = MessageRetentionOverrideOutputSerializer(many=True)
    preview = MessageRetentionPreviewSerializer(help_text="What a run would remove now under this policy.")


class LegalHoldSerializer(serializers.ModelSerializer):
    channel = serializers.PrimaryKeyRelatedField(source="channel_id", read_only=True, allow_null=True)
    user = UserSummarySerializer(read_only=True, allow_null=True)
    created_by = serializers.PrimaryKeyRelatedField(source="created_by_id", read_only=True, allow_null=True)
    released_by = serializers.PrimaryKeyRelatedField(source="released_by_id", read_only=True, allow_null=True)
    active = serializers.SerializerMethodField()

    class Meta:
        model = LegalHold
        fields = ["id", "channel", "user", "reason", "created", "created_by", "released_at", "released_by", "active"]
        read_only_fields = fields

    def get_active(self, hold) -> bool:
        return hold.released_at is None


class LegalHoldCreateSerializer(StrictSerializer):
    channel_id = serializers.IntegerField(min_value=1, required=False, help_text="Hold this channel's messages…")
    user_id = serializers.IntegerField(min_value=1, required=False, help_text="…or everything this user wrote.")
    reason = serializers.CharField(max_length=500)

    def validate(self, attrs):
        if ("channel_id" in attrs) == ("user_id" in attrs):
            raise serializers.ValidationError("Give either channel_id or user_id.")
        return attrs


class MessageRetentionRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = RetentionRun
        fields = ["id", "started", "finished", "status", "cutoff_now", "action", "days", "processed", "per_channel"]
        read_only_fields = fields
