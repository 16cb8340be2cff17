"""Admin screens: dashboards (edit name and range, duplicate, open the page), ingestion keys (revoke), the
organizations' analytics opt-out, and the rollups' fill state (how far each stat is filled)."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from analytics import services
from analytics.models import AnalyticsSettings, Dashboard, FillState, IngestKey, Tile
from chatapp.kernel.admin import ServiceAdminMixin


class TileInline(admin.TabularInline):
    model = Tile
    extra = 0
    fields = ["position", "title", "metric", "chart", "interval", "range_days", "breakdown", "filters"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # tiles are added on the dashboard page or over the API, where the metric is validated


@admin.register(Dashboard)
class DashboardAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["name", "organization", "builtin", "default_range_days", "created_by", "updated", "page"]
    list_filter = ["organization", "builtin"]
    search_fields = ["name", "organization__slug"]
    list_select_related = ["organization", "created_by"]
    fields = ["organization", "name", "description", "default_range_days", "builtin", "created_by", "created"]
    readonly_fields = ["organization", "builtin", "created_by", "created"]
    inlines = [TileInline]
    actions = ["duplicate", "delete_dashboards"]

    def has_add_permission(self, request):
        return False  # created in the organization (API or page), with dashboards.edit

    def has_delete_permission(self, request, obj=None):
        return False  # the action below deletes through the service, which audits

    @admin.display(description="Page")
    def page(self, obj):
        url = reverse("analytics-dashboard-page", kwargs={"org": obj.organization.slug, "pk": obj.pk})
        return format_html('<a href="{}">Open</a>', url)

    def save_model(self, request, obj, form, change):
        self.call_service(
            request, services.dashboard_update, actor=request.user, org=obj.organization,
            dashboard=Dashboard.objects.get(pk=obj.pk), **{name: form.cleaned_data[name] for name in form.changed_data},
        )  # fmt: skip

    @admin.action(description="Duplicate the selected dashboards")
    def duplicate(self, request, queryset):
        done = sum(
            self.run_action(request, services.dashboard_duplicate, actor=request.user, org=d.organization, dashboard=d)
            for d in queryset.select_related("organization")
        )
        self.message_user(request, f"{done} dashboard(s) duplicated.")

    @admin.action(description="Delete the selected dashboards")
    def delete_dashboards(self, request, queryset):
        done = sum(
            self.run_action(request, services.dashboard_delete, actor=request.user, org=d.organization, dashboard=d)
            for d in queryset.select_related("organization")
        )
        self.message_user(request, f"{done} dashboard(s) deleted.")


@admin.register(IngestKey)
class IngestKeyAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["name", "prefix", "organization", "created", "last_used", "revoked_at"]
    list_filter = ["organization", "revoked_at"]
    search_fields = ["name", "prefix", "organization__slug"]
    list_select_related = ["organization"]
    fields = ["organization", "name", "prefix", "created", "created_by", "last_used", "revoked_at"]
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # created over the API, which shows the key once

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        done = sum(
            self.run_action(request, services.ingest_key_revoke, actor=request.user, org=k.organization, key=k)
            for k in queryset.select_related("organization")
        )
        self.message_user(request, f"{done} key(s) revoked.")


@admin.register(AnalyticsSettings)
class AnalyticsSettingsAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["organization", "enabled", "updated"]
    list_filter = ["enabled"]
    fields = ["organization", "enabled"]

    def get_readonly_fields(self, request, obj=None):
        return ["organization"] if obj else []

    def save_model(self, request, obj, form, change):
        self.call_service(request, services.analytics_settings_update, actor=request.user, org=obj.organization,
                          enabled=form.cleaned_data["enabled"])  # fmt: skip


@admin.register(FillState)
class FillStateAdmin(admin.ModelAdmin):
    list_display = ["stat", "filled_until", "state", "late_since", "updated"]
    readonly_fields = ["stat", "filled_until", "state", "late_since", "updated"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
