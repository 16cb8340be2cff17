from django.contrib import admin
from django.db.models import Count

from chatapp.chat import services
from chatapp.chat.models import Channel, ChannelMember, Message
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
