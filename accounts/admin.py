from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.db.models import Count, Q

from accounts import services
from accounts.models import Membership, Organization, User
from chatapp.kernel.admin import ServiceAdminMixin


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0
    fields = ["organization", "role", "is_active", "joined"]
    readonly_fields = ["organization", "role", "is_active", "joined"]
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    ordering = ["email"]
    list_display = ["email", "full_name", "is_active", "is_staff", "organization_count", "date_joined", "last_login"]
    list_filter = ["is_active", "is_staff", "is_superuser", "memberships__organization", "date_joined"]
    search_fields = ["email", "full_name"]
    readonly_fields = ["date_joined", "last_login"]
    show_full_result_count = False
    inlines = [MembershipInline]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Personal", {"fields": ["full_name"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "full_name", "password1", "password2"]})]

    class Meta:
        model = User

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(organization_total=Count("memberships", filter=Q(memberships__is_active=True)))
        )

    @admin.display(description="Organizations", ordering="organization_total")
    def organization_count(self, obj):
        return obj.organization_total


UserCreationForm.Meta.model = User
UserCreationForm.Meta.fields = ["email", "full_name"]
UserChangeForm.Meta.model = User


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "member_total", "created"]
    list_filter = ["is_active", "created"]
    search_fields = ["name", "slug"]
    readonly_fields = ["created"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        return (
            super().get_queryset(request).annotate(members=Count("memberships", filter=Q(memberships__is_active=True)))
        )

    @admin.display(description="Active members", ordering="members")
    def member_total(self, obj):
        return obj.members


@admin.register(Membership)
class MembershipAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["user", "organization", "role", "is_active", "joined"]
    list_filter = ["role", "is_active", "organization"]
    search_fields = ["user__email", "user__full_name", "organization__slug", "organization__name"]
    list_select_related = ["user", "organization"]
    autocomplete_fields = ["user", "organization"]
    readonly_fields = ["joined"]
    show_full_result_count = False
    actions = ["deactivate"]

    def get_readonly_fields(self, request, obj=None):
        # Who and where are fixed once a membership exists; role and state change through the service.
        return [*self.readonly_fields, "user", "organization"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            self.call_service(
                request,
                services.member_update,
                actor=request.user,
                org=obj.organization,
                membership=obj,
                role=obj.role,
                is_active=obj.is_active,
            )
        else:
            saved = self.call_service(
                request, services.member_add, actor=request.user, org=obj.organization, user=obj.user, role=obj.role
            )
            if saved is not None:
                obj.pk = saved.pk

    @admin.action(description="Deactivate the selected memberships")
    def deactivate(self, request, queryset):
        done = sum(
            self.run_action(
                request,
                services.member_update,
                actor=request.user,
                org=membership.organization,
                membership=membership,
                is_active=False,
            )
            for membership in queryset.select_related("organization")
        )
        self.message_user(request, f"Deactivated {done} membership(s).")
