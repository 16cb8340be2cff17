from django.contrib import admin

from audit.models import AuditChain, AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: nobody adds, changes or deletes audit rows here (the database refuses it anyway)."""

    list_display = [
        "occurred_at",
        "organization",
        "sequence",
        "event_name",
        "outcome",
        "actor_label",
        "target_label",
        "ip",
    ]
    list_filter = ["category", "outcome", "actor_type", "organization", "occurred_at"]
    search_fields = ["event_name", "actor_label", "target_label", "target_id", "request_id", "ip"]
    list_select_related = ["organization"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False
    list_per_page = 100

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditChain)
class AuditChainAdmin(admin.ModelAdmin):
    list_display = ["chain", "last_sequence", "base_sequence", "last_hash"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- streaming destinations ---------------------------------------------------------------------------------------

from django import forms  # noqa: E402

from audit.models import StreamDestination  # noqa: E402
from audit.streaming import services as streaming  # noqa: E402
from chatapp.kernel.admin import ServiceAdminMixin  # noqa: E402


class StreamDestinationForm(forms.ModelForm):
    """The signing secret is write-only here too: the field starts empty, and empty keeps the current secret."""

    url = forms.URLField(max_length=2000, required=False, assume_scheme="https")
    signing_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Webhooks: 24+ characters. Leave empty to keep the current secret.",
    )

    class Meta:
        model = StreamDestination
        fields = ["organization", "name", "kind", "enabled", "categories", "url", "host", "port", "use_tls"]


@admin.register(StreamDestination)
class StreamDestinationAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """Saves and deletes go through the streaming services (permission check, validation, audit event)."""

    form = StreamDestinationForm
    list_display = [
        "name", "organization", "kind", "enabled", "delivery_status", "lag", "delivered_count", "last_success_at",
        "consecutive_failures", "next_attempt_at",
    ]  # fmt: skip
    list_filter = ["kind", "enabled", "organization"]
    search_fields = ["name", "organization__slug"]
    list_select_related = ["organization"]
    readonly_fields = [
        "secret_hint", "cursor", "api_cursor", "delivered_count", "last_success_at", "last_attempt_at", "last_error",
        "consecutive_failures", "next_attempt_at",
    ]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "organization"] if obj is not None else self.readonly_fields

    @admin.display(description="status")
    def delivery_status(self, obj) -> str:
        if not obj.enabled:
            return "disabled"
        if obj.consecutive_failures:
            return f"failing ({obj.consecutive_failures}): {obj.last_error}"
        return "ok" if obj.last_success_at else "waiting"

    @admin.display(description="lag")
    def lag(self, obj) -> int:
        return streaming.destination_lag(obj, streaming.chain_heads(org=obj.organization))

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in streaming.AUDITED_FIELDS if name in form.cleaned_data}
        if form.cleaned_data.get("signing_secret"):
            values["signing_secret"] = form.cleaned_data["signing_secret"]
        if change:
            self.call_service(
                request, streaming.stream_destination_update, actor=request.user, org=obj.organization,
                destination=obj, **values,
            )  # fmt: skip
        else:
            saved = self.call_service(
                request, streaming.stream_destination_create, actor=request.user, org=obj.organization, **values
            )
            if saved is not None:
                obj.pk = saved.pk

    def delete_model(self, request, obj):
        self.call_service(
            request, streaming.stream_destination_delete, actor=request.user, org=obj.organization, destination=obj
        )
