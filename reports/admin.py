"""Reports in the admin: definitions, runs (with progress), schedules, triggers and the delivery log.

Writes go through the services (pause, resume, run now, change), so they are permission-checked and audited;
definitions are built over the API or in the builder page (/reports/<org>/builder/)."""

from django.contrib import admin

from chatapp.kernel.admin import ServiceAdminMixin
from reports import schedules, services
from reports.models import (
    Delivery,
    DeliveryTarget,
    Recipient,
    Report,
    ReportRun,
    ReportSettings,
    ReportVersion,
    Schedule,
    Trigger,
)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class VersionInline(ReadOnlyInline):
    model = ReportVersion
    fields = ["version", "created_by", "created"]
    readonly_fields = fields


@admin.register(Report)
class ReportAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["title", "organization", "period", "template", "version", "pdf_variant", "updated"]
    list_filter = ["organization", "period", "template", "pdf_variant"]
    search_fields = ["title", "organization__slug"]
    list_select_related = ["organization"]
    fields = ["organization", "title", "description", "period", "custom_start", "custom_end", "pdf_variant",
              "sections", "template", "version", "created_by", "created", "updated"]  # fmt: skip
    readonly_fields = ["organization", "sections", "template", "version", "created_by", "created", "updated"]
    inlines = [VersionInline]
    actions = ["run_now"]

    def has_add_permission(self, request):
        return False  # built over the API or in the builder page, from a template or from scratch

    def save_model(self, request, obj, form, change):
        self.call_service(request, services.report_update, actor=request.user, org=obj.organization,
                          report=Report.objects.get(pk=obj.pk),
                          **{name: form.cleaned_data[name] for name in form.changed_data})  # fmt: skip

    @admin.action(description="Render the selected reports now")
    def run_now(self, request, queryset):
        done = sum(self.run_action(request, services.run_request, actor=request.user, org=r.organization, report=r)
                   for r in queryset)  # fmt: skip
        self.message_user(request, f"{done} run(s) queued; follow their progress under Report runs.")


@admin.register(ReportRun)
class ReportRunAdmin(admin.ModelAdmin):
    list_display = ["id", "report", "organization", "version", "status", "progress", "page_count", "size_bytes",
                    "created", "finished", "expires_at"]  # fmt: skip
    list_filter = ["status", "organization", "created"]
    list_select_related = ["report", "organization"]
    exclude = ["data"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RecipientInline(ReadOnlyInline):
    model = Recipient
    fields = ["email", "user", "unsubscribed_at"]
    readonly_fields = fields


@admin.register(Schedule)
class ScheduleAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "organization", "owner", "frequency", "time_of_day", "timezone", "is_paused",
                    "next_run_at"]  # fmt: skip
    list_filter = ["frequency", "is_paused", "timezone", "organization"]
    list_select_related = ["report", "organization", "owner"]
    readonly_fields = ["organization", "report", "owner", "next_run_at", "created", "next_five"]
    fields = ["organization", "report", "owner", "frequency", "time_of_day", "timezone", "weekdays", "day_of_month",
              "ordinal", "ordinal_day", "attach_csv", "is_paused", "next_run_at", "next_five", "created"]  # fmt: skip
    inlines = [RecipientInline]
    actions = ["pause", "resume"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Next five runs (UTC)")
    def next_five(self, obj):
        return ", ".join(f"{slot:%Y-%m-%d %H:%M}" for slot in schedules.next_runs(obj)) if obj.pk else ""

    def save_model(self, request, obj, form, change):
        self.call_service(request, schedules.schedule_update, actor=request.user, org=obj.organization,
                          schedule=Schedule.objects.get(pk=obj.pk),
                          **{name: form.cleaned_data[name] for name in form.changed_data})  # fmt: skip

    @admin.action(description="Pause the selected schedules")
    def pause(self, request, queryset):
        self._set_paused(request, queryset, True)

    @admin.action(description="Resume the selected schedules")
    def resume(self, request, queryset):
        self._set_paused(request, queryset, False)

    def _set_paused(self, request, queryset, paused):
        done = sum(self.run_action(request, schedules.schedule_update, actor=request.user, org=s.organization,
                                   schedule=s, is_paused=paused) for s in queryset)  # fmt: skip
        self.message_user(request, f"{done} schedule(s) {'paused' if paused else 'resumed'}.")


class TargetInline(ReadOnlyInline):
    model = DeliveryTarget
    fields = ["kind", "address", "status", "attempts", "message_id", "size_bytes", "error", "sent_at"]
    readonly_fields = fields


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "organization", "report", "schedule", "trigger", "slot", "status", "version"]
    list_filter = ["kind", "status", "organization", "slot"]
    list_select_related = ["organization", "report", "schedule__report", "trigger"]
    inlines = [TargetInline]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Trigger)
class TriggerAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["name", "organization", "metric", "direction", "threshold", "clear_threshold", "state",
                    "last_value", "last_fired_at", "is_active"]  # fmt: skip
    list_filter = ["state", "metric", "is_active", "organization"]
    list_select_related = ["organization"]
    readonly_fields = ["organization", "owner", "report", "state", "breach_since", "last_value",
                       "last_evaluated_at", "last_fired_at", "created"]  # fmt: skip
    inlines = [RecipientInline]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        from reports import triggers

        self.call_service(request, triggers.trigger_update, actor=request.user, org=obj.organization,
                          trigger=Trigger.objects.get(pk=obj.pk),
                          **{name: form.cleaned_data[name] for name in form.changed_data})  # fmt: skip


@admin.register(ReportSettings)
class ReportSettingsAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["organization", "external_domains"]
    readonly_fields = ["organization"]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        self.call_service(request, services.settings_set, actor=request.user, org=obj.organization,
                          external_domains=form.cleaned_data["external_domains"])  # fmt: skip
