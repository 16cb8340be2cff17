"""Admin screens: the operator curates the marketplace (review queue, publishers' verified badge, abuse
reports, yanking); installations show health and metrics with enable/disable. Actions call the services."""

from django.conf import settings
from django.contrib import admin, messages
from django.utils.html import format_html

from chatapp.kernel.admin import ServiceAdminMixin
from plugins.models import (
    AbuseReport,
    Component,
    Installation,
    ListingReview,
    Plugin,
    PluginVersion,
    Publisher,
    PublisherKey,
)
from plugins.services import lifecycle, marketplace


def _dev_mode_banner(admin_class):
    """Development mode is shown on every plugin screen (unsigned, unapproved plugins install)."""

    def changelist_view(self, request, extra_context=None):
        if settings.PLUGIN_DEV_MODE:
            self.message_user(
                request, "Plugin development mode is ON: unsigned and unapproved plugins can be installed.",
                messages.WARNING,
            )  # fmt: skip
        return super(admin_class, self).changelist_view(request, extra_context)

    admin_class.changelist_view = changelist_view
    return admin_class


class PublisherKeyInline(admin.TabularInline):
    model = PublisherKey
    extra = 0
    fields = ["key_id", "status", "created", "status_changed", "reason"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Publisher)
class PublisherAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "organization", "verified", "created"]
    list_filter = ["verified"]
    search_fields = ["slug", "name"]
    fields = ["slug", "name", "organization", "verified"]
    readonly_fields = ["slug", "organization"]
    inlines = [PublisherKeyInline]

    def has_add_permission(self, request):
        return False  # publishers register through the API (plugins.publish), keys with them


class VersionInline(admin.TabularInline):
    model = PluginVersion
    extra = 0
    fields = ["version", "status", "key", "unsigned_dev", "created"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@_dev_mode_banner
@admin.register(Plugin)
class PluginAdmin(admin.ModelAdmin):
    list_display = ["plugin_id", "name", "kind", "publisher", "private_to", "install_count"]
    list_filter = ["kind", "category"]
    search_fields = ["plugin_id", "name"]
    readonly_fields = ["plugin_id", "kind", "publisher", "private_to", "capabilities", "install_count", "created"]
    fields = ["plugin_id", "name", "kind", "publisher", "private_to", "category", "description", "capabilities",
              "install_count", "created"]  # fmt: skip
    inlines = [VersionInline]

    def has_add_permission(self, request):
        return False


@_dev_mode_banner
@admin.register(PluginVersion)
class PluginVersionAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """The review queue: filter by status; read the scan findings and the sources, then decide."""

    list_display = ["__str__", "status", "signed", "findings_count", "submitted_by", "created"]
    list_filter = ["status", "unsigned_dev"]
    search_fields = ["plugin__plugin_id", "version", "package_sha256"]
    actions = ["start_review", "approve", "reject", "yank"]
    readonly_fields = ["plugin", "version", "status", "manifest", "package_sha256", "package_size", "wasm_sha256",
                       "key", "unsigned_dev", "findings", "sources", "submitted_by", "reviewed_by", "review_reason",
                       "created"]  # fmt: skip
    exclude = ["scan_report", "signature", "deprecated"]

    def has_add_permission(self, request):
        return False

    @admin.display(boolean=True)
    def signed(self, obj):
        return obj.key_id is not None

    def findings_count(self, obj):
        return len(obj.scan_report.get("findings", []))

    def findings(self, obj):
        return "\n".join(obj.scan_report.get("findings", [])) or "none"

    def sources(self, obj):
        parts = [format_html("<h4>{}</h4><pre>{}</pre>", name, text)
                 for name, text in (obj.scan_report.get("sources") or {}).items()]  # fmt: skip
        return format_html("{}", "".join(parts)) if parts else "-"

    def _each(self, request, queryset, service, **kwargs):
        done = sum(self.run_action(request, service, actor=request.user, version=v, **kwargs) for v in queryset)
        if done:
            self.message_user(request, f"{done} version(s) updated.")

    @admin.action(description="Start review")
    def start_review(self, request, queryset):
        self._each(request, queryset, marketplace.review_start)

    @admin.action(description="Approve (after review)")
    def approve(self, request, queryset):
        self._each(request, queryset, marketplace.version_approve)

    @admin.action(description="Reject (does not meet the guidelines)")
    def reject(self, request, queryset):
        self._each(request, queryset, marketplace.version_reject, reason="Rejected in review; see the guidelines.")

    @admin.action(description="Yank (disable everywhere)")
    def yank(self, request, queryset):
        self._each(request, queryset, marketplace.version_yank, reason="Withdrawn by the marketplace operator.")


@_dev_mode_banner
@admin.register(Installation)
class InstallationAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["plugin", "organization", "version", "enabled", "calls", "errors", "mean_latency_ms",
                    "last_error"]  # fmt: skip
    list_filter = ["enabled", "organization"]
    search_fields = ["plugin__plugin_id", "organization__slug"]
    actions = ["enable", "disable"]
    readonly_fields = ["organization", "plugin", "version", "pending_version", "consented_capabilities", "enabled",
                       "disabled_reason", "pinned", "settings", "service_user", "installed_by", "installed_at",
                       "calls", "errors", "latency_us_total", "fuel_total", "recent_failures", "last_error",
                       "last_called_at"]  # fmt: skip
    exclude = ["secrets", "channels"]

    def has_add_permission(self, request):
        return False

    def mean_latency_ms(self, obj):
        return round(obj.latency_us_total / obj.calls / 1000, 2) if obj.calls else "-"

    def _set(self, request, queryset, enabled):
        for installation in queryset:
            self.run_action(request, lifecycle.installation_set_enabled, actor=request.user,
                            org=installation.organization, installation=installation, enabled=enabled)  # fmt: skip

    @admin.action(description="Enable")
    def enable(self, request, queryset):
        self._set(request, queryset, True)

    @admin.action(description="Disable")
    def disable(self, request, queryset):
        self._set(request, queryset, False)


@admin.register(AbuseReport)
class AbuseReportAdmin(admin.ModelAdmin):
    list_display = ["plugin", "organization", "reporter", "created", "resolved"]
    list_filter = ["resolved"]
    readonly_fields = ["plugin", "organization", "reporter", "reason", "created"]

    def has_add_permission(self, request):
        return False


@admin.register(ListingReview)
class ListingReviewAdmin(admin.ModelAdmin):
    list_display = ["plugin", "organization", "rating", "created"]
    readonly_fields = ["plugin", "organization", "author", "rating", "text", "created"]

    def has_add_permission(self, request):
        return False


@admin.register(Component)
class ComponentAdmin(admin.ModelAdmin):
    list_display = ["key", "version", "organization", "kind", "output", "published"]
    list_filter = ["published", "output", "kind"]
    readonly_fields = ["organization", "key", "version", "name", "description", "kind", "output", "input_schema",
                       "template", "samples", "published", "created_by", "created"]  # fmt: skip

    def has_add_permission(self, request):
        return False
