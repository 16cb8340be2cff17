from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.db.models import Count, Q

from accounts import services
from accounts.models import ApiKey, Membership, Organization, ServiceAccount, User, UserSession
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

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            # A deactivated user's sessions and keys end now, not when they are next looked at.
            services.credentials_revoke_all(user=obj, reason="user deactivated", actor=request.user)

    def user_change_password(self, request, id, form_url=""):
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:  # the form was valid and the password set
            user = self.get_object(request, id)
            keep = request.session.session_key if user.pk == request.user.pk else None
            services.credentials_revoke_all(
                user=user, reason="password changed", actor=request.user, keep_session_key=keep
            )
        return response


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
    fieldsets = [
        (None, {"fields": ["name", "slug", "is_active", "created"]}),
        (
            "Credential policy",
            {"fields": ["api_key_max_lifetime_days", "session_idle_timeout_minutes", "session_max_lifetime_hours"]},
        ),
    ]

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


@admin.register(ServiceAccount)
class ServiceAccountAdmin(admin.ModelAdmin):
    """Read-only here: service accounts are created through the API or `create_api_key --service`."""

    list_display = ["name", "organization", "user", "created_by", "created_at"]
    list_filter = ["organization"]
    search_fields = ["name", "organization__slug"]
    list_select_related = ["organization", "user", "created_by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """Keys are listed and revoked here; they are created through the API or `manage.py create_api_key`, which
    show the secret once. The secret is not stored, so nothing here can show it."""

    list_display = ["name", "prefix", "kind", "owner", "organization", "scope_list", "write", "last_used_at",
                    "last_used_ip", "expires_at", "revoked_at"]  # fmt: skip
    list_filter = ["kind", "write", "organization", "revoked_at", "expires_at"]
    search_fields = ["name", "prefix", "owner__email", "organization__slug"]
    list_select_related = ["owner", "organization"]
    show_full_result_count = False
    exclude = ["digest"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in ApiKey._meta.fields if field.name != "digest"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: a deleted key would leave its audit trail pointing at nothing

    @admin.display(description="Scopes")
    def scope_list(self, obj):
        return ", ".join(obj.scopes)

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request, queryset):
        done = sum(
            self.run_action(
                request,
                services.api_key_revoke,
                actor=request.user,
                org=key.organization,
                key=key,
                reason="revoked in the admin",
            )
            for key in queryset.select_related("organization")
        )
        self.message_user(request, f"Revoked {done} key(s).")


@admin.register(UserSession)
class UserSessionAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["user", "user_agent", "ip", "created_at", "last_activity"]
    search_fields = ["user__email", "ip"]
    list_select_related = ["user"]
    exclude = ["session_key"]  # the key is the session's bearer credential
    readonly_fields = ["user", "user_agent", "ip", "created_at", "last_activity"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="End the selected sessions")
    def revoke(self, request, queryset):
        done = sum(
            self.run_action(request, services.session_revoke, actor=request.user, session=row)
            for row in queryset.select_related("user")
        )
        self.message_user(request, f"Ended {done} session(s).")
