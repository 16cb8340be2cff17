from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chatapp.kernel.api import StrictSerializer
from plugins.capabilities import capabilities
from plugins.manifest import Manifest
from plugins.models import Installation, Plugin, PluginVersion, Publisher, PublisherKey

CAPABILITY_CODES = [c.key for c in capabilities]


class VersionSummarySerializer(serializers.ModelSerializer):
    capabilities = serializers.ListField(child=serializers.CharField(), read_only=True)
    changelog = serializers.SerializerMethodField()
    signed = serializers.SerializerMethodField()

    class Meta:
        model = PluginVersion
        fields = ["id", "version", "status", "capabilities", "changelog", "signed", "deprecated", "created"]
        read_only_fields = fields

    def get_changelog(self, version) -> str:
        return version.manifest.get("changelog", "")

    def get_signed(self, version) -> bool:
        return version.key_id is not None or version.plugin.kind == Plugin.Kind.BUILTIN


class ListingSerializer(serializers.ModelSerializer):
    publisher = serializers.CharField(source="publisher.name", default="chatapp (built-in)", read_only=True)
    verified = serializers.SerializerMethodField()
    rating = serializers.FloatField(read_only=True, allow_null=True)
    review_count = serializers.IntegerField(read_only=True)
    private = serializers.SerializerMethodField()

    class Meta:
        model = Plugin
        fields = [
            "plugin_id", "name", "kind", "publisher", "verified", "category", "description", "capabilities",
            "install_count", "rating", "review_count", "private",
        ]  # fmt: skip
        read_only_fields = fields

    def get_verified(self, plugin) -> bool:
        return plugin.kind == Plugin.Kind.BUILTIN or bool(plugin.publisher and plugin.publisher.verified)

    def get_private(self, plugin) -> bool:
        return plugin.private_to_id is not None


class ListingDetailSerializer(ListingSerializer):
    versions = serializers.SerializerMethodField()

    class Meta(ListingSerializer.Meta):
        fields = [*ListingSerializer.Meta.fields, "versions"]
        read_only_fields = fields

    @extend_schema_field(VersionSummarySerializer(many=True))
    def get_versions(self, plugin):
        shown = [v for v in plugin.versions.all() if v.status in {"approved", "yanked"}]
        return VersionSummarySerializer(shown, many=True).data


class InstallationSerializer(serializers.ModelSerializer):
    plugin_id = serializers.CharField(source="plugin.plugin_id", read_only=True)
    name = serializers.CharField(source="plugin.name", read_only=True)
    kind = serializers.CharField(source="plugin.kind", read_only=True)
    version = serializers.CharField(source="version.version", read_only=True)
    version_status = serializers.CharField(source="version.status", read_only=True)
    pending_version = serializers.CharField(source="pending_version.version", default=None, read_only=True)
    pending_capabilities = serializers.SerializerMethodField()
    settings = serializers.SerializerMethodField()
    channels = serializers.SerializerMethodField()
    metrics = serializers.SerializerMethodField()
    service_user_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Installation
        fields = [
            "plugin_id", "name", "kind", "version", "version_status", "pending_version", "pending_capabilities",
            "consented_capabilities", "enabled", "disabled_reason", "pinned", "settings", "channels", "metrics",
            "service_user_id", "installed_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_pending_capabilities(self, installation) -> list[str]:
        if installation.pending_version is None:
            return []
        return sorted(set(installation.pending_version.capabilities) - set(installation.consented_capabilities))

    @extend_schema_field(serializers.DictField())
    def get_settings(self, installation):
        """Secret fields are write-only: only whether they are set is shown."""
        secret = Manifest(installation.version.manifest).secret_fields()
        shown = dict(installation.settings)
        for name in secret:
            shown[name] = {"set": name in installation.secrets}  # reading .secrets decrypts; values stay here
        return shown

    def get_channels(self, installation) -> list[int]:
        return sorted(c.pk for c in installation.channels.all())

    @extend_schema_field(serializers.DictField())
    def get_metrics(self, installation):
        calls = installation.calls
        return {
            "calls": calls,
            "errors": installation.errors,
            "mean_latency_ms": round(installation.latency_us_total / calls / 1000, 3) if calls else None,
            "fuel_used": installation.fuel_total,
            "recent_failures": len(installation.recent_failures),
            "last_error": installation.last_error,
            "last_called_at": installation.last_called_at,
        }


class InstallSerializer(StrictSerializer):
    plugin_id = serializers.CharField(max_length=100)
    version = serializers.CharField(max_length=64, required=False)
    consent = serializers.ListField(child=serializers.ChoiceField(choices=CAPABILITY_CODES), allow_empty=True)
    channel_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list)


class SettingsSerializer(StrictSerializer):
    values = serializers.DictField(help_text="Settings to change; secret fields: null clears, omitted keeps.")


class VersionChangeSerializer(StrictSerializer):
    version = serializers.CharField(max_length=64)
    consent = serializers.ListField(
        child=serializers.ChoiceField(choices=CAPABILITY_CODES), required=False, default=list
    )


class ConsentSerializer(StrictSerializer):
    consent = serializers.ListField(child=serializers.ChoiceField(choices=CAPABILITY_CODES))


class ChannelsSerializer(StrictSerializer):
    channel_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), allow_empty=True)


class CommandSerializer(StrictSerializer):
    command = serializers.RegexField(r"^/[a-z0-9][a-z0-9_-]{0,31}$")
    text = serializers.CharField(max_length=4000, allow_blank=True, required=False, default="")
    channel_id = serializers.IntegerField(min_value=1)


class CommandResultSerializer(serializers.Serializer):
    plugin_id = serializers.CharField()
    response = serializers.JSONField()


class ReviewSerializer(StrictSerializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    text = serializers.CharField(max_length=4000, allow_blank=True, required=False, default="")


class ReportSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=4000)


class PublisherSerializer(serializers.ModelSerializer):
    keys = serializers.SerializerMethodField()

    class Meta:
        model = Publisher
        fields = ["slug", "name", "verified", "keys", "created"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_keys(self, publisher):
        return PublisherKeySerializer(publisher.keys.all(), many=True).data


class PublisherCreateSerializer(StrictSerializer):
    slug = serializers.SlugField(max_length=50)
    name = serializers.CharField(max_length=120)


class PublisherKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = PublisherKey
        fields = ["key_id", "public_key", "status", "created", "status_changed", "reason"]
        read_only_fields = fields


class KeyAddSerializer(StrictSerializer):
    public_key = serializers.CharField(max_length=100, help_text="Raw Ed25519 public key, base64.")
    retire_others = serializers.BooleanField(default=False, help_text="Rotation: retire the active keys.")


class KeyRevokeSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=300)


class UploadSerializer(StrictSerializer):
    package = serializers.FileField()
    signature = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    key_id = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    private = serializers.BooleanField(default=False, help_text="Only this organization sees and installs it.")


class SubmissionSerializer(serializers.ModelSerializer):
    plugin_id = serializers.CharField(source="plugin.plugin_id", read_only=True)
    findings = serializers.SerializerMethodField()
    key_id = serializers.CharField(source="key.key_id", default="", read_only=True)

    class Meta:
        model = PluginVersion
        fields = [
            "id", "plugin_id", "version", "status", "package_sha256", "package_size", "key_id", "unsigned_dev",
            "findings", "review_reason", "created",
        ]  # fmt: skip
        read_only_fields = fields

    def get_findings(self, version) -> list[str]:
        return list(version.scan_report.get("findings", []))


class DecisionSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ComponentSerializer(serializers.Serializer):
    key = serializers.SlugField(read_only=True)
    version = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    kind = serializers.CharField(read_only=True)
    output = serializers.CharField(read_only=True)
    input_schema = serializers.JSONField(read_only=True)
    template = serializers.JSONField(read_only=True)
    samples = serializers.JSONField(read_only=True)
    published = serializers.BooleanField(read_only=True)
    docs = serializers.SerializerMethodField()

    def get_docs(self, component) -> str:
        from plugins.components import component_docs

        return component_docs(name=component.name, description=component.description,
                              input_schema=component.input_schema, samples=component.samples)  # fmt: skip


class ComponentSaveSerializer(StrictSerializer):
    key = serializers.SlugField(max_length=60)
    name = serializers.CharField(max_length=80)
    description = serializers.CharField(max_length=2000, allow_blank=True, required=False, default="")
    kind = serializers.ChoiceField(choices=["message_card", "form", "link_preview", "dashboard_tile"],
                                   default="message_card")  # fmt: skip
    output = serializers.ChoiceField(choices=["card", "html"])
    input_schema = serializers.DictField()
    template = serializers.JSONField()
    samples = serializers.ListField(child=serializers.DictField(), max_length=50)


class ComponentPreviewSerializer(StrictSerializer):
    output = serializers.ChoiceField(choices=["card", "html"])
    input_schema = serializers.DictField()
    template = serializers.JSONField()
    inputs = serializers.DictField()


class ComponentPreviewResultSerializer(serializers.Serializer):
    output = serializers.JSONField()
