"""Admin screens of the integrations: every save, delete and action goes through the services (permission check,
validation, audit event). Secrets are write-only here too: shown once in a message, never in a form."""

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from chatapp.kernel.admin import SERVICE_ERRORS, ServiceAdminMixin
from plugins.integrations import catalogue
from plugins.integrations.models import (
    Delivery,
    DeliveryAttempt,
    InboundDelivery,
    IncomingWebhook,
    Installation,
    SlackImport,
    WebhookEndpoint,
)
from plugins.integrations.services import incoming, installations, webhooks


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class InstallationForm(forms.ModelForm):
    """Plain settings as JSON; each secret field of the manifest is a password box that keeps the stored value
    when left empty."""

    secret_values = forms.JSONField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text='Secrets to set, e.g. {"token": "..."}; left out ones are kept. Never shown again.',
    )  # fmt: skip

    class Meta:
        model = Installation
        fields = ["organization", "integration", "enabled", "settings"]


@admin.register(Installation)
class InstallationAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = InstallationForm
    list_display = ["integration", "organization", "enabled", "secrets_set", "inbound_url", "updated"]
    list_filter = ["integration", "enabled"]
    search_fields = ["organization__slug", "integration"]
    list_select_related = ["organization"]
    readonly_fields = ["secrets_set", "inbound_url", "bot_user", "installed_by", "created", "updated"]

    def get_readonly_fields(self, request, obj=None):
        fixed = ["organization", "integration"] if obj is not None else []
        return [*self.readonly_fields, *fixed]

    @admin.display(description="secrets set")
    def secrets_set(self, obj) -> str:
        return ", ".join(sorted(k for k, v in (obj.secrets or {}).items() if v)) or "—"

    @admin.display(description="inbound URL")
    def inbound_url(self, obj) -> str:
        return f"/hooks/{obj.integration}/…{obj.inbound_token_hint}/" if obj.inbound_token_hint else "—"

    def save_model(self, request, obj, form, change):
        values = {**(form.cleaned_data.get("settings") or {}), **(form.cleaned_data.get("secret_values") or {})}
        if change:
            self.call_service(
                request, installations.integration_configure, actor=request.user, org=obj.organization,
                installation=obj, settings=values, enabled=form.cleaned_data.get("enabled"),
            )  # fmt: skip
            return
        result = self.call_service(
            request, installations.integration_install, actor=request.user, org=obj.organization,
            integration=obj.integration, settings=values,
        )  # fmt: skip
        if result is not None:
            obj.pk = result[0].pk
            messages.warning(request, f"Inbound URL (shown once): /hooks/{obj.integration}/{result[1]}/")

    def delete_model(self, request, obj):
        self.call_service(
            request, installations.integration_uninstall, actor=request.user, org=obj.organization, installation=obj
        )

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "title": "Integrations ("
                         + ", ".join(i.manifest["name"] for i in catalogue.integrations) + ")"}  # fmt: skip
        return super().changelist_view(request, extra_context)


class EndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ["organization", "name", "url", "enabled", "event_types", "filters", "body_template"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = EndpointForm
    list_display = ["name", "organization", "url_display", "enabled", "health", "failing_since", "last_success_at"]
    list_filter = ["enabled", "organization"]
    search_fields = ["name", "organization__slug"]
    list_select_related = ["organization"]
    readonly_fields = ["secret_hint", "previous_secret_expires", "failing_since", "disabled_reason",
                       "last_success_at", "last_error", "created_by", "created", "updated"]  # fmt: skip
    actions = ["send_test", "rotate_secret", "enable"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "organization"] if obj is not None else self.readonly_fields

    @admin.display(description="URL")
    def url_display(self, obj) -> str:
        return obj.url.split("?", 1)[0]

    @admin.display(description="signing secret")
    def secret_hint(self, obj) -> str:
        return "whsec_…" + obj.secret[-4:] if obj.pk else "generated when saved, shown once"

    @admin.display(description="24 h")
    def health(self, obj) -> str:
        h = webhooks.endpoints_health(org=obj.organization, endpoint_ids=[obj.pk])[obj.pk]
        rate = "—" if h["success_rate_24h"] is None else f"{h['success_rate_24h']:.0%}"
        return format_html(
            "{} ok of {}; {} pending, {} dead", rate, h["deliveries_24h"], h["pending"], h["dead_letters"]
        )

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in webhooks.AUDITED_FIELDS if name in form.cleaned_data}
        if change:
            self.call_service(request, webhooks.endpoint_update, actor=request.user, org=obj.organization,
                              endpoint=obj, **values)  # fmt: skip
            return
        result = self.call_service(request, webhooks.endpoint_create, actor=request.user, org=obj.organization,
                                   **values)  # fmt: skip
        if result is not None:
            obj.pk = result[0].pk
            messages.warning(request, f"Signing secret (shown once, copy it now): {result[1]}")

    def delete_model(self, request, obj):
        self.call_service(request, webhooks.endpoint_delete, actor=request.user, org=obj.organization, endpoint=obj)

    @admin.action(description="Send a test event")
    def send_test(self, request, queryset):
        for endpoint in queryset:
            try:
                delivery = webhooks.endpoint_test(actor=request.user, org=endpoint.organization, endpoint=endpoint)
            except SERVICE_ERRORS as exc:  # a refusal is reported; the other endpoints are still tried
                self.message_user(request, f"{endpoint}: {exc}", messages.WARNING)
                continue
            level = messages.SUCCESS if delivery.status == "succeeded" else messages.WARNING
            self.message_user(request, f"{endpoint}: {delivery.status} {delivery.last_error}".strip(), level)

    @admin.action(description="Rotate the signing secret (24 h overlap)")
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            secret = self.call_service(request, webhooks.endpoint_rotate_secret, actor=request.user,
                                       org=endpoint.organization, endpoint=endpoint)  # fmt: skip
            if secret:
                self.message_user(request, f"{endpoint}: new secret (shown once): {secret}", messages.WARNING)

    @admin.action(description="Enable again (clears the failure state)")
    def enable(self, request, queryset):
        for endpoint in queryset:
            self.run_action(request, webhooks.endpoint_update, actor=request.user, org=endpoint.organization,
                            endpoint=endpoint, enabled=True)  # fmt: skip


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ["number", "started_at", "response_status", "latency_ms", "error", "response_body"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(ServiceAdminMixin, ReadOnlyAdmin):
    list_display = ["id", "endpoint", "organization", "event_type", "status", "attempts", "last_status_code",
                    "last_error", "created", "next_attempt_at"]  # fmt: skip
    list_filter = ["status", "is_test", "organization"]
    search_fields = ["event__event_id", "endpoint__name"]
    list_select_related = ["endpoint", "organization", "event"]
    date_hierarchy = "created"
    inlines = [AttemptInline]
    actions = ["replay"]

    @admin.display(description="event")
    def event_type(self, obj) -> str:
        return obj.event.event_type

    @admin.action(description="Replay the selected deliveries")
    def replay(self, request, queryset):
        replayed = 0
        for org_id in set(queryset.values_list("organization_id", flat=True)):
            subset = queryset.filter(organization_id=org_id)
            org = subset.first().organization
            copies = self.call_service(request, webhooks.deliveries_replay, actor=request.user, org=org,
                                       deliveries=subset)  # fmt: skip
            replayed += len(copies or [])
        self.message_user(request, f"{replayed} deliveries queued again.")


@admin.register(IncomingWebhook)
class IncomingWebhookAdmin(ServiceAdminMixin, ReadOnlyAdmin):
    list_display = ["name", "organization", "channel", "url_hint", "enabled", "last_used_at", "created_by"]
    list_filter = ["enabled", "organization"]
    list_select_related = ["organization", "channel", "created_by"]

    @admin.display(description="URL")
    def url_hint(self, obj) -> str:
        return f"/hooks/incoming/…{obj.token_hint}/"

    def delete_model(self, request, obj):
        self.call_service(request, incoming.incoming_delete, actor=request.user, org=obj.organization, hook=obj)

    def delete_queryset(self, request, queryset):
        for hook in queryset:
            self.delete_model(request, hook)


@admin.register(InboundDelivery)
class InboundDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["delivery_id", "installation", "organization", "event", "outcome", "messages_posted", "received_at"]
    list_filter = ["installation__integration", "organization"]
    search_fields = ["delivery_id"]
    list_select_related = ["installation", "organization"]


@admin.register(SlackImport)
class SlackImportAdmin(ReadOnlyAdmin):
    list_display = ["id", "organization", "status", "progress", "error", "created", "finished_at"]
    list_filter = ["status"]
    readonly_fields = [
        "organization",
        "status",
        "progress",
        "unmapped",
        "error",
        "created_by",
        "created",
        "finished_at",
    ]
    actions = ["resume"]

    @admin.action(description="Resume (already imported items are skipped)")
    def resume(self, request, queryset):
        from plugins.integrations import tasks

        for job in queryset:
            tasks.slack_import_run.delay(job.pk)
        self.message_user(request, f"{queryset.count()} import(s) queued.")
