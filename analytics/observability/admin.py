"""Admin screens: error projects (DSNs, quotas, alerts) and error issues (filters, search, resolve/ignore through
the services); hourly performance rows read-only."""

import json

from django import forms
from django.contrib import admin
from django.utils.html import format_html

from analytics.observability.histogram import BUCKET_FIELDS, quantile
from analytics.observability.models import EndpointHour, ErrorIssue, ErrorProject, TaskHour
from analytics.observability.services import issues as issue_services
from analytics.observability.services import projects as project_services
from chatapp.kernel.admin import ServiceAdminMixin


class ErrorProjectForm(forms.ModelForm):
    alert_webhook_url = forms.URLField(max_length=2000, required=False, assume_scheme="https")
    alert_emails = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="One address per line."
    )

    class Meta:
        model = ErrorProject
        fields = ["organization", "name", "platform", "is_active", "rate_limit_per_minute", "alert_emails",
                  "alert_webhook_url"]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["alert_emails"] = "\n".join(self.instance.alert_emails or [])

    def clean_alert_emails(self):
        return [line.strip() for line in self.cleaned_data["alert_emails"].splitlines() if line.strip()]


@admin.register(ErrorProject)
class ErrorProjectAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """Saves go through the project services (permission check, validation, audit event)."""

    form = ErrorProjectForm
    list_display = ["name", "organization", "platform", "is_active", "rate_limit_per_minute", "dsn_path", "created"]
    list_filter = ["is_active", "platform", "organization"]
    search_fields = ["name", "organization__slug", "organization__name"]
    list_select_related = ["organization"]
    readonly_fields = ["dsn", "created"]
    actions = ["rotate_key"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "organization"] if obj is not None else self.readonly_fields

    @admin.display(description="DSN path")
    def dsn_path(self, obj) -> str:
        return f"/ingest/sentry/{obj.pk}"

    @admin.display(description="DSN")
    def dsn(self, obj) -> str:
        if not obj.pk:
            return "shown once saved"
        return f"https://{obj.public_key}@<your chatapp host>/ingest/sentry/{obj.pk}"

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in project_services.FIELDS if name in form.cleaned_data}
        if change:
            self.call_service(
                request, project_services.project_update, actor=request.user, org=obj.organization, project=obj,
                **values,
            )  # fmt: skip
        else:
            saved = self.call_service(
                request, project_services.project_create, actor=request.user, org=obj.organization, **values
            )
            if saved is not None:
                obj.pk = saved.pk

    def delete_model(self, request, obj):
        self.call_service(request, project_services.project_delete, actor=request.user, org=obj.organization,
                          project=obj)  # fmt: skip

    @admin.action(description="Rotate the DSN key (the old DSN stops working)")
    def rotate_key(self, request, queryset):
        done = sum(
            self.run_action(
                request,
                project_services.project_rotate_key,
                actor=request.user,
                org=project.organization,
                project=project,
            )
            for project in queryset.select_related("organization")
        )
        self.message_user(request, f"Rotated the key of {done} project(s).")


@admin.register(ErrorIssue)
class ErrorIssueAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """Read-only but for the status, which the actions change through the services (audited)."""

    list_display = ["title", "status", "level", "times_seen", "users_affected", "where", "culprit", "last_seen",
                    "first_seen"]  # fmt: skip
    list_filter = ["status", "level", "environment", ("organization", admin.RelatedOnlyFieldListFilter),
                   ("project", admin.RelatedOnlyFieldListFilter), "last_seen"]  # fmt: skip
    search_fields = ["title", "culprit", "exception_type", "fingerprint", "last_release"]
    list_select_related = ["organization", "project"]
    date_hierarchy = "last_seen"
    ordering = ["-last_seen"]
    actions = ["resolve", "ignore", "reopen"]
    fields = ["title", "status", "level", "exception_type", "culprit", "organization", "project", "times_seen",
              "users_affected", "first_seen", "last_seen", "resolved_at", "last_release", "environment",
              "fingerprint", "latest_event"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="where")
    def where(self, obj) -> str:
        return f"{obj.organization.slug} / {obj.project.name}" if obj.project_id else "chatapp server"

    @admin.display(description="latest event (scrubbed)")
    def latest_event(self, obj) -> str:
        event = obj.events.order_by("-received", "-id").first()
        if event is None:
            return "-"
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", json.dumps(event.data, indent=2)[:20000])

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser if obj is None else False

    def _change(self, request, queryset, service, verb):
        done = sum(
            self.run_action(request, service, actor=request.user, org=issue.organization, issue=issue)
            for issue in queryset.select_related("organization")
        )
        self.message_user(request, f"{verb} {done} issue(s).")

    @admin.action(description="Resolve (a new event marks it regressed)", permissions=["change"])
    def resolve(self, request, queryset):
        self._change(request, queryset, issue_services.issue_resolve, "Resolved")

    @admin.action(description="Ignore (still counted, never alerted)", permissions=["change"])
    def ignore(self, request, queryset):
        self._change(request, queryset, issue_services.issue_ignore, "Ignored")

    @admin.action(description="Mark unresolved", permissions=["change"])
    def reopen(self, request, queryset):
        self._change(request, queryset, issue_services.issue_reopen, "Reopened")


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(EndpointHour)
class EndpointHourAdmin(_ReadOnly):
    list_display = ["hour", "route", "source", "scope", "requests", "errors", "p95_ms", "queries_per_request"]
    list_filter = ["source", "hour"]
    search_fields = ["route"]
    date_hierarchy = "hour"
    ordering = ["-hour", "route"]

    @admin.display(description="p95 (ms)")
    def p95_ms(self, obj):
        return quantile([getattr(obj, name) for name in BUCKET_FIELDS], 0.95)

    @admin.display(description="queries / request")
    def queries_per_request(self, obj):
        return round(obj.db_queries / obj.requests, 1) if obj.requests else None


@admin.register(TaskHour)
class TaskHourAdmin(_ReadOnly):
    list_display = ["hour", "task", "runs", "failures", "p95_ms", "mean_lag_ms", "lag_max_ms"]
    search_fields = ["task"]
    date_hierarchy = "hour"
    ordering = ["-hour", "task"]

    @admin.display(description="p95 (ms)")
    def p95_ms(self, obj):
        return quantile([getattr(obj, name) for name in BUCKET_FIELDS], 0.95)

    @admin.display(description="mean queue lag (ms)")
    def mean_lag_ms(self, obj):
        return round(obj.lag_ms / obj.lag_samples, 1) if obj.lag_samples else None
