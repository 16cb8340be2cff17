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
