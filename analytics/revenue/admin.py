"""Revenue screens for the operator: plans, customers, subscriptions (with their MRR history), invoices, payments,
exchange rates, the Stripe webhook event log (with reprocessing) and CSV imports (upload with a dry run).

Holders of `revenue.read` see every screen read-only; `revenue.manage` (or a superuser) edits plan labels,
customer links and rates, imports and reprocesses — always through the services, so each change is audited.
Amounts are shown in major units with their currency; what comes from Stripe is never edited here.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from analytics.revenue import access, money
from analytics.revenue.models import (
    CsvImport,
    Customer,
    ExchangeRate,
    Invoice,
    Payment,
    Plan,
    Subscription,
    SubscriptionItem,
    SubscriptionRevision,
    WebhookEvent,
)
from analytics.revenue.services import imports, operator, stripe
from chatapp.kernel.admin import ServiceAdminMixin


def _money(amount, currency) -> str:
    if amount is None:
        return "—"
    return f"{money.to_major(amount, currency):,} {currency}"


class ReadOnlyRevenueAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """Visible to revenue readers; nothing is added, changed or deleted unless a subclass says so."""

    show_full_result_count = False
    list_per_page = 50

    def has_module_permission(self, request):
        return access.can_read(request.user)

    def has_view_permission(self, request, obj=None):
        return access.can_read(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ManagedRevenueAdmin(ReadOnlyRevenueAdmin):
    def has_change_permission(self, request, obj=None):
        return access.can_manage(request.user)


@admin.register(Plan)
class PlanAdmin(ManagedRevenueAdmin):
    list_display = ["__str__", "external_id", "price", "interval_label", "is_active", "source"]
    list_filter = ["is_active", "currency", "interval", "source"]
    search_fields = ["name", "external_id"]
    fields = ["external_id", "name", "is_active", "currency", "unit_amount", "interval", "interval_count", "source",
              "source_updated_at"]  # fmt: skip
    readonly_fields = ["external_id", "currency", "unit_amount", "interval", "interval_count", "source",
                       "source_updated_at"]  # fmt: skip

    @admin.display(description="Price per seat")
    def price(self, obj):
        return _money(obj.unit_amount, obj.currency)

    @admin.display(description="Every")
    def interval_label(self, obj):
        return obj.interval if obj.interval_count == 1 else f"{obj.interval_count} {obj.interval}s"

    def save_model(self, request, obj, form, change):
        self.call_service(
            request, operator.plan_update, actor=request.user, plan=obj,
            **{name: form.cleaned_data[name] for name in form.changed_data},
        )  # fmt: skip


@admin.register(Customer)
class CustomerAdmin(ManagedRevenueAdmin):
    list_display = ["__str__", "external_id", "organization", "subscription_total", "source"]
    list_filter = ["source", ("organization", admin.EmptyFieldListFilter)]
    search_fields = ["name", "external_id", "organization__slug"]
    list_select_related = ["organization"]
    fields = ["external_id", "name", "organization", "source", "source_updated_at"]
    readonly_fields = ["external_id", "source", "source_updated_at"]
    raw_id_fields = ["organization"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(subscriptions_n=Count("subscriptions"))

    @admin.display(description="Subscriptions", ordering="subscriptions_n")
    def subscription_total(self, obj):
        return obj.subscriptions_n

    def save_model(self, request, obj, form, change):
        self.call_service(
            request, operator.customer_link, actor=request.user, customer=obj,
            organization=form.cleaned_data["organization"], name=form.cleaned_data["name"],
        )  # fmt: skip


class ItemInline(admin.TabularInline):
    model = SubscriptionItem
    extra = 0
    fields = ["external_id", "plan", "quantity", "unit_amount", "metered"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return access.can_read(request.user)


class RevisionInline(ItemInline):
    model = SubscriptionRevision
    fields = ["effective_at", "status", "currency", "mrr", "seats", "plan", "source_ref", "recorded_at"]
    readonly_fields = fields
    ordering = ["effective_at", "id"]
    verbose_name_plural = "MRR history (revisions, in the order they took effect)"


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyRevenueAdmin):
    list_display = ["external_id", "customer", "organization", "plan", "status", "seats", "mrr_label", "started_at",
                    "ended_at", "source"]  # fmt: skip
    list_filter = ["status", "currency", "interval", "source", "cancel_at_period_end", "started_at"]
    search_fields = ["external_id", "customer__external_id", "customer__name", "organization__slug"]
    list_select_related = ["customer", "organization", "plan"]
    date_hierarchy = "started_at"
    inlines = [ItemInline, RevisionInline]
    readonly_fields = [f.name for f in Subscription._meta.fields]

    @admin.display(description="MRR", ordering="mrr")
    def mrr_label(self, obj):
        return _money(obj.mrr, obj.currency)


class PaymentInline(ItemInline):
    model = Payment
    fields = ["external_id", "status", "currency", "amount", "amount_refunded", "created_at"]
    readonly_fields = fields


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyRevenueAdmin):
    list_display = ["__str__", "customer", "subscription", "status", "total_label", "paid_label", "created_at"]
    list_filter = ["status", "currency", "created_at"]
    search_fields = ["external_id", "number", "customer__external_id", "customer__name"]
    list_select_related = ["customer", "subscription"]
    date_hierarchy = "created_at"
    inlines = [PaymentInline]
    readonly_fields = [f.name for f in Invoice._meta.fields]

    @admin.display(description="Total", ordering="total")
    def total_label(self, obj):
        return _money(obj.total, obj.currency)

    @admin.display(description="Paid", ordering="amount_paid")
    def paid_label(self, obj):
        return _money(obj.amount_paid, obj.currency)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyRevenueAdmin):
    list_display = ["external_id", "customer", "invoice", "status", "amount_label", "refunded_label", "created_at"]
    list_filter = ["status", "currency", "created_at"]
    search_fields = ["external_id", "customer__external_id", "invoice__external_id"]
    list_select_related = ["customer", "invoice"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Payment._meta.fields]

    @admin.display(description="Amount", ordering="amount")
    def amount_label(self, obj):
        return _money(obj.amount, obj.currency)

    @admin.display(description="Refunded", ordering="amount_refunded")
    def refunded_label(self, obj):
        return _money(obj.amount_refunded, obj.currency)


@admin.register(ExchangeRate)
class ExchangeRateAdmin(ManagedRevenueAdmin):
    list_display = ["currency", "reporting_currency", "valid_from", "rate", "note"]
    list_filter = ["currency", "reporting_currency"]
    date_hierarchy = "valid_from"
    fields = ["currency", "reporting_currency", "valid_from", "rate", "note"]

    def has_add_permission(self, request):
        return access.can_manage(request.user)

    def has_delete_permission(self, request, obj=None):
        return access.can_manage(request.user)

    def get_changeform_initial_data(self, request):
        from django.conf import settings

        initial = super().get_changeform_initial_data(request)
        return {"reporting_currency": settings.REVENUE_REPORTING_CURRENCY, **initial}

    def save_model(self, request, obj, form, change):
        saved = self.call_service(
            request, operator.rate_save, actor=request.user, rate_obj=obj if change else None,
            **{name: form.cleaned_data[name] for name in self.fields},
        )  # fmt: skip
        if saved is not None:
            obj.pk = saved.pk

    def delete_model(self, request, obj):
        operator.rate_delete(actor=request.user, rate_obj=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            operator.rate_delete(actor=request.user, rate_obj=obj)


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyRevenueAdmin):
    list_display = ["event_id", "type", "status", "created_at", "received_at", "deliveries", "error_excerpt"]
    list_filter = ["status", "type", "livemode", "received_at"]
    search_fields = ["event_id", "type"]
    date_hierarchy = "received_at"
    fields = ["event_id", "type", "status", "error", "created_at", "received_at", "processed_at", "deliveries",
              "livemode", "payload_pretty"]  # fmt: skip
    readonly_fields = fields
    actions = ["reprocess"]

    @admin.display(description="Error")
    def error_excerpt(self, obj):
        return obj.error[:80]

    @admin.display(description="Payload")
    def payload_pretty(self, obj):
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", json.dumps(obj.payload, indent=2))

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not access.can_manage(request.user):
            actions.pop("reprocess", None)
        return actions

    @admin.action(description="Process the selected events again")
    def reprocess(self, request, queryset):
        results = [
            self.run_action(request, stripe.webhook_event_reprocess, actor=request.user, event=event)
            for event in queryset
        ]
        failed = queryset.filter(status=WebhookEvent.Status.FAILED).count()
        self.message_user(request, f"Reprocessed {sum(results)} event(s); {failed} of the selection still failed.")


class CsvUploadForm(forms.Form):
    file = forms.FileField(help_text=f"UTF-8 CSV with a header row, at most {imports.MAX_BYTES // (1024 * 1024)} MB.")
    dry_run = forms.BooleanField(required=False, initial=True, help_text="Only check the file; write nothing.")


@admin.register(CsvImport)
class CsvImportAdmin(ReadOnlyRevenueAdmin):
    list_display = ["filename", "imported_at", "imported_by", "rows", "subscriptions_created", "subscriptions_updated"]
    readonly_fields = [f.name for f in CsvImport._meta.fields]
    list_select_related = ["imported_by"]
    change_list_template = "admin/revenue/csvimport/change_list.html"

    def get_urls(self):
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="revenue_csvimport_upload"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {"can_upload": access.can_manage(request.user), **(extra_context or {})}
        return super().changelist_view(request, extra)

    def upload_view(self, request):
        if not access.can_manage(request.user):
            raise PermissionDenied
        form = CsvUploadForm(request.POST or None, request.FILES or None)
        errors, result = [], None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > imports.MAX_BYTES:
                errors = [f"file: larger than {imports.MAX_BYTES // (1024 * 1024)} MB"]
            else:
                try:
                    result = imports.csv_import(
                        actor=request.user, content=upload.read(), filename=upload.name,
                        dry_run=form.cleaned_data["dry_run"],
                    )  # fmt: skip
                except imports.ImportRejected as exc:
                    errors = exc.errors
            if result is not None and not result.dry_run:
                self.message_user(
                    request,
                    f"Imported {result.rows} row(s): {result.subscriptions_created} new subscription(s), "
                    f"{result.subscriptions_updated} updated.",
                    messages.SUCCESS,
                )
                return redirect(reverse("admin:revenue_csvimport_changelist"))
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "form": form, "errors": errors,
            "result": result, "title": "Import subscriptions from CSV", "columns": imports.__doc__,
        }  # fmt: skip
        return TemplateResponse(request, "admin/revenue/csvimport/upload.html", context)
