from rest_framework import serializers

from chatapp.kernel.api import StrictSerializer
from plugins.integrations.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    IncomingWebhook,
    Installation,
    WebhookEndpoint,
)

# --- catalogue and installations ---------------------------------------------------------------------------------


class CatalogueEntrySerializer(serializers.Serializer):
    slug = serializers.CharField()
    manifest = serializers.JSONField()
    installed = serializers.BooleanField()


class IntegrationInstallationSerializer(serializers.ModelSerializer):
    """Settings without secrets: for each secret field, only whether it is set."""

    secrets_set = serializers.SerializerMethodField()
    inbound_url = serializers.SerializerMethodField()
    bot_user_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Installation
        fields = ["id", "integration", "enabled", "settings", "secrets_set", "inbound_url", "bot_user_id", "created",
                  "updated"]  # fmt: skip

    def get_secrets_set(self, obj) -> list[str]:
        return sorted(k for k, v in (obj.secrets or {}).items() if v)

    def get_inbound_url(self, obj) -> str:
        return f"/hooks/{obj.integration}/…{obj.inbound_token_hint}/" if obj.inbound_token_hint else ""


class InstallationCreatedSerializer(IntegrationInstallationSerializer):
    inbound_token = serializers.CharField(help_text="The secret part of the inbound URL; shown only now.")
    inbound_url = serializers.CharField()

    class Meta(IntegrationInstallationSerializer.Meta):
        fields = [*IntegrationInstallationSerializer.Meta.fields, "inbound_token"]


class IntegrationInstallSerializer(StrictSerializer):
    integration = serializers.CharField(max_length=40)
    settings = serializers.JSONField(required=False, default=dict)


class ConfigureSerializer(StrictSerializer):
    settings = serializers.JSONField(required=False, default=dict, help_text="Given keys replace, null removes.")
    enabled = serializers.BooleanField(required=False)

    def validate_settings(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("An object.")
        return value


# --- outgoing webhooks -------------------------------------------------------------------------------------------


class EndpointHealthSerializer(serializers.Serializer):
    deliveries_24h = serializers.IntegerField()
    success_rate_24h = serializers.FloatField(allow_null=True)
    dead_letters = serializers.IntegerField()
    pending = serializers.IntegerField()
    lag_seconds = serializers.IntegerField()


class EndpointSerializer(serializers.ModelSerializer):
    secret_hint = serializers.SerializerMethodField()
    rotation_overlap_until = serializers.DateTimeField(source="previous_secret_expires", read_only=True)
    health = serializers.SerializerMethodField()

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "name", "url", "enabled", "event_types", "filters", "body_template", "secret_hint",
                  "rotation_overlap_until", "failing_since", "disabled_reason", "last_success_at", "last_error",
                  "health", "created", "updated"]  # fmt: skip

    def get_secret_hint(self, obj) -> str:
        return "whsec_…" + obj.secret[-4:]

    def get_health(self, obj) -> EndpointHealthSerializer:
        return self.context.get("health", {}).get(obj.pk)


class EndpointCreatedSerializer(EndpointSerializer):
    secret = serializers.CharField(help_text="The signing secret: shown only now.")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class EndpointWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    url = serializers.CharField(max_length=2000)
    event_types = serializers.ListField(child=serializers.CharField(max_length=100), allow_empty=False)
    filters = serializers.JSONField(required=False)
    body_template = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    enabled = serializers.BooleanField(required=False)


class RotateSecretSerializer(StrictSerializer):
    overlap_hours = serializers.IntegerField(required=False, default=24, min_value=0, max_value=168)


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField()
    rotation_overlap_until = serializers.DateTimeField(allow_null=True)


class ReplayRangeSerializer(StrictSerializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    statuses = serializers.ListField(child=serializers.ChoiceField(DeliveryStatus.choices), required=False)

    def validate(self, attrs):
        if attrs["until"] <= attrs["since"]:
            raise serializers.ValidationError({"until": ["Must be after since."]})
        return attrs


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "started_at", "request_headers", "request_body", "response_status", "response_body",
                  "latency_ms", "error"]  # fmt: skip


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.CharField(source="event.event_id")
    event_type = serializers.CharField(source="event.event_type")
    endpoint_id = serializers.IntegerField()
    replay_of_id = serializers.IntegerField(allow_null=True)

    class Meta:
        model = Delivery
        fields = ["id", "endpoint_id", "event_id", "event_type", "status", "attempts", "next_attempt_at",
                  "last_status_code", "last_error", "replay_of_id", "is_test", "created", "finished_at"]  # fmt: skip


class DeliveryDetailSerializer(WebhookDeliverySerializer):
    attempt_log = AttemptSerializer(many=True)

    class Meta(WebhookDeliverySerializer.Meta):
        fields = [*WebhookDeliverySerializer.Meta.fields, "attempt_log"]


class ReplayResultSerializer(serializers.Serializer):
    replayed = serializers.IntegerField()
    delivery_ids = serializers.ListField(child=serializers.IntegerField())


# --- incoming webhooks -------------------------------------------------------------------------------------------


class IncomingSerializer(serializers.ModelSerializer):
    channel_id = serializers.IntegerField()
    url_hint = serializers.SerializerMethodField()

    class Meta:
        model = IncomingWebhook
        fields = ["id", "name", "channel_id", "enabled", "url_hint", "last_used_at", "created"]

    def get_url_hint(self, obj) -> str:
        return f"/hooks/incoming/…{obj.token_hint}/"


class IncomingCreatedSerializer(IncomingSerializer):
    url = serializers.CharField(help_text="The webhook URL (path): shown only now.")

    class Meta(IncomingSerializer.Meta):
        fields = [*IncomingSerializer.Meta.fields, "url"]


class IncomingWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    channel_id = serializers.IntegerField()


# --- message actions ---------------------------------------------------------------------------------------------


class IssueFromMessageSerializer(StrictSerializer):
    message_id = serializers.IntegerField()
    target = serializers.CharField(
        required=False, max_length=200, help_text="owner/repo (GitHub), project path (GitLab), project key (Jira)."
    )
    title = serializers.CharField(required=False, max_length=250)


class CommentFromMessageSerializer(StrictSerializer):
    message_id = serializers.IntegerField()
    target = serializers.CharField(required=False, max_length=200)
    issue = serializers.CharField(max_length=100, help_text="Issue number (GitHub, GitLab) or key (Jira).")


class ExternalLinkSerializer(serializers.Serializer):
    url = serializers.CharField()
    key = serializers.CharField()


class SlackImportSerializer(serializers.ModelSerializer):
    class Meta:
        from plugins.integrations.models import SlackImport

        model = SlackImport
        fields = ["id", "status", "progress", "unmapped", "error", "created", "finished_at"]


class SlackImportUploadSerializer(StrictSerializer):
    file = serializers.FileField(help_text="The zip from Slack's workspace export.")


class NotificationResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    error = serializers.CharField(allow_blank=True)


class LinkPreviewSerializer(serializers.Serializer):
    provider = serializers.CharField()
    kind = serializers.CharField()
    url = serializers.CharField()
    key = serializers.CharField()
    title = serializers.CharField(allow_blank=True)
    state = serializers.CharField(allow_blank=True)
    author = serializers.CharField(allow_blank=True)


class LinkPreviewResultSerializer(serializers.Serializer):
    preview = LinkPreviewSerializer(allow_null=True, help_text="null when the URL has no preview.")
