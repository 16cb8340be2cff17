from rest_framework import serializers

from accounts.api.serializers import UserSummarySerializer
from chatapp.chat.models import Channel, ChannelMember, Message
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
