from django import forms
from django.contrib import admin
from django.db.models import Count

from chatapp.chat import retention, services
from chatapp.chat.models import (
    Channel,
    ChannelMember,
    ChannelRetentionOverride,
    LegalHold,
    Message,
    MessageRetentionPolicy,
    RetentionAction,
    RetentionRun,
)
from chatapp.kernel.admin import ServiceAdminMixin


class ChannelMemberInline(admin.TabularInline):
    model = ChannelMember
    extra = 0
    fields = ["user", "added"]
    readonly_fields = ["user", "added"]
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Channel)
class ChannelAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["name", "organization", "is_private", "is_archived", "member_total", "created_by", "created"]
    list_filter = ["organization", "is_private", "is_archived", "created"]
    search_fields = ["name", "topic", "organization__slug"]
    list_select_related = ["organization", "created_by"]
    readonly_fields = ["organization", "created_by", "created", "is_archived"]
    fields = ["organization", "name", "topic", "is_private", "is_archived", "created_by", "created"]
    inlines = [ChannelMemberInline]
    actions = ["archive", "unarchive"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # channels are created by their members, in the app or over the API

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(members_n=Count("memberships"))

    @admin.display(description="Members", ordering="members_n")
    def member_total(self, obj):
        return obj.members_n

    def save_model(self, request, obj, form, change):
        self.call_service(
            request,
            services.channel_update,
            actor=request.user,
            org=obj.organization,
            channel=Channel.objects.get(pk=obj.pk),
            **{name: form.cleaned_data[name] for name in form.changed_data},
        )

    @admin.action(description="Archive the selected channels")
    def archive(self, request, queryset):
        self._set_archived(request, queryset, archived=True)

    @admin.action(description="Unarchive the selected channels")
    def unarchive(self, request, queryset):
        self._set_archived(request, queryset, archived=False)

    def _set_archived(self, request, queryset, *, archived):
        done = sum(
            self.run_action(
                request,
                services.channel_set_archived,
                actor=request.user,
                org=channel.organization,
                channel=channel,
                archived=archived,
            )
            for channel in queryset.select_related("organization")
        )
        self.message_user(request, f"{'Archived' if archived else 'Unarchived'} {done} channel(s).")


@admin.register(Message)
class MessageAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["id", "channel", "author", "excerpt", "created", "edited", "deleted"]
    list_filter = ["organization", "created", ("deleted", admin.EmptyFieldListFilter)]
    search_fields = ["body", "author__email"]
    list_select_related = ["channel", "author"]
    raw_id_fields = ["channel", "author"]
    date_hierarchy = "created"
    show_full_result_count = False  # COUNT(*) over millions of messages would slow every page
    list_per_page = 50
    actions = ["soft_delete"]
    readonly_fields = ["organization", "channel", "author", "body", "created", "edited", "deleted"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # messages are evidence: the admin reads them and may delete them, never rewrites them

    @admin.display(description="Message")
    def excerpt(self, obj):
        return obj.body[:80]

    @admin.action(description="Delete the selected messages (soft delete)")
    def soft_delete(self, request, queryset):
        done = sum(
            self.run_action(
                request, services.message_delete, actor=request.user, org=message.organization, message=message
            )
            for message in queryset.select_related("organization")
        )
        self.message_user(request, f"Deleted {done} message(s).")


# Message retention. Saves and releases go through chatapp.chat.retention, so the admin writes the same audit
# events as the API.


class MessageRetentionPolicyForm(forms.ModelForm):
    """Saving a policy that removes messages takes two presses: the first shows the preview, the second saves.

    `previewed` carries what the shown preview was computed for; changing any value after it asks again.
    """

    previewed = forms.CharField(widget=forms.HiddenInput, required=False)
    preview = None

    class Meta:
        model = MessageRetentionPolicy
        fields = ["organization", "enabled", "days", "action"]

    def clean(self):
        cleaned = super().clean()
        org = cleaned.get("organization") or getattr(self.instance, "organization", None)
        if self.errors or org is None or not cleaned.get("enabled"):
            return cleaned  # field errors first; turning retention off removes nothing, so there is nothing to show
        rules = retention.Rules(
            enabled=True, days=cleaned["days"], action=cleaned["action"], overrides=retention.rules_of(org).overrides
        )
        signature = f"{org.pk}:{rules.days}:{rules.action}"
        if cleaned.get("previewed") != signature:
            self.preview = retention.retention_preview(org=org, rules=rules)
            self.data = self.data.copy()
            self.data["previewed"] = signature
            verb = "delete" if rules.action == RetentionAction.DELETE else "anonymize"
            raise forms.ValidationError(
                f"Not saved yet: this policy would {verb} {self.preview['total']} message(s) now (per channel "
                "below). Save again to confirm."
            )
        return cleaned


@admin.register(MessageRetentionPolicy)
class MessageRetentionPolicyAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = MessageRetentionPolicyForm
    change_form_template = "admin/chat/retention_policy_change_form.html"
    list_display = ["organization", "enabled", "days", "action", "updated", "updated_by"]
    list_filter = ["enabled", "action"]
    list_select_related = ["organization", "updated_by"]
    search_fields = ["organization__slug", "organization__name"]
    fields = ["organization", "enabled", "days", "action", "previewed", "would_go_now", "updated", "updated_by"]
    readonly_fields = ["would_go_now", "updated", "updated_by"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "organization"] if obj else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False  # switch it off instead: the row keeps who changed it last

    @admin.display(description="Next run would remove")
    def would_go_now(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        preview = retention.retention_preview(org=obj.organization, rules=retention.rules_of(obj.organization))
        return f"{preview['total']} message(s) in {len(preview['channels'])} channel(s)"

    def save_model(self, request, obj, form, change):
        policy = self.call_service(
            request, retention.retention_policy_set, actor=request.user, org=obj.organization,
            enabled=obj.enabled, days=obj.days, action=obj.action,
        )  # fmt: skip
        if policy is not None:
            obj.pk = policy.pk


@admin.register(ChannelRetentionOverride)
class ChannelRetentionOverrideAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """One channel's override; saved by re-saving the policy with the changed list (one write path, one event)."""

    list_display = ["channel", "organization", "days"]
    list_select_related = ["channel", "organization"]
    list_filter = ["organization"]
    raw_id_fields = ["channel"]
    fields = ["channel", "days"]

    def get_readonly_fields(self, request, obj=None):
        return ["channel"] if obj else []

    def _save_overrides(self, request, org, overrides):
        rules = retention.rules_of(org)
        return self.call_service(
            request, retention.retention_policy_set, actor=request.user, org=org, enabled=rules.enabled,
            days=rules.days, action=rules.action, overrides=[{"channel": c, "days": d} for c, d in overrides.items()],
        )  # fmt: skip

    def save_model(self, request, obj, form, change):
        org = obj.channel.organization
        overrides = {**retention.rules_of(org).overrides, obj.channel_id: obj.days}
        if self._save_overrides(request, org, overrides) is not None and not change:
            obj.pk = ChannelRetentionOverride.objects.get(channel=obj.channel).pk  # for the "added" message's link

    def delete_model(self, request, obj):
        org = obj.organization
        overrides = {c: d for c, d in retention.rules_of(org).overrides.items() if c != obj.channel_id}
        self._save_overrides(request, org, overrides)

    def has_delete_permission(self, request, obj=None):
        return obj is not None  # one at a time, through the service (no bulk delete action)


@admin.register(LegalHold)
class LegalHoldAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "organization", "reason", "created", "created_by", "released_at"]
    list_filter = ["organization", ("released_at", admin.EmptyFieldListFilter)]
    list_select_related = ["organization", "channel", "user", "created_by"]
    search_fields = ["reason", "user__email", "channel__name"]
    raw_id_fields = ["channel", "user"]
    fields = ["organization", "channel", "user", "reason", "created", "created_by", "released_at", "released_by"]
    actions = ["release"]

    def get_readonly_fields(self, request, obj=None):
        meta = ["created", "created_by", "released_at", "released_by"]
        return ["organization", "channel", "user", "reason", *meta] if obj else meta

    def has_delete_permission(self, request, obj=None):
        return False  # released, never deleted: the hold is part of the record

    def save_model(self, request, obj, form, change):
        hold = self.call_service(
            request, retention.legal_hold_place, actor=request.user, org=obj.organization, reason=obj.reason,
            channel=obj.channel, user=obj.user,
        )  # fmt: skip
        if hold is not None:
            obj.pk = hold.pk

    @admin.action(description="Release the selected legal holds")
    def release(self, request, queryset):
        done = sum(
            self.run_action(request, retention.legal_hold_release, actor=request.user, org=hold.organization, hold=hold)
            for hold in queryset.filter(released_at__isnull=True).select_related("organization")
        )
        self.message_user(request, f"Released {done} legal hold(s).")


@admin.register(RetentionRun)
class RetentionRunAdmin(admin.ModelAdmin):
    list_display = ["pk", "organization", "started", "finished", "status", "action", "days", "processed"]
    list_filter = ["organization", "status", "action"]
    list_select_related = ["organization"]
    date_hierarchy = "started"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # the record of what a run did
