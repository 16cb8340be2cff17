from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.db.models import Count, Q
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from accounts.models import ApiKey, Invitation, Membership, Organization, ServiceAccount, User, UserSession
from accounts.services import mfa, sso
from accounts.services.login import lockout_clear
from accounts.sso import admin as sso_admin  # noqa: F401  (registers IdentityProviderAdmin)
from chatapp.kernel.admin import ServiceAdminMixin

# django-otp's own admin shows every user's TOTP secret and QR code to staff: an admin never needs them
# (a lost phone is handled by "Reset MFA", which the member follows by enrolling again).
if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)


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
class UserAdmin(ServiceAdminMixin, DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    ordering = ["email"]
    list_display = ["email", "full_name", "is_active", "is_staff", "organization_count", "date_joined", "last_login"]
    list_filter = ["is_active", "is_staff", "is_superuser", "memberships__organization", "date_joined"]
    search_fields = ["email", "full_name"]
    readonly_fields = ["date_joined", "last_login"]
    show_full_result_count = False
    inlines = [MembershipInline]
    actions = ["unlock_login"]
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

    @admin.action(description="Unlock login (clear failed-login lockouts)")
    def unlock_login(self, request, queryset):
        done = sum(self.run_action(request, lockout_clear, actor=request.user, user=user) for user in queryset)
        self.message_user(request, f"Unlocked the login of {done} user(s).")


UserCreationForm.Meta.model = User
UserCreationForm.Meta.fields = ["email", "full_name"]
UserChangeForm.Meta.model = User


@admin.register(Organization)
class OrganizationAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "mfa_policy", "member_total", "created"]
    list_filter = ["is_active", "mfa_policy", "created"]
    search_fields = ["name", "slug"]
    readonly_fields = ["created", "mfa_policy_since"]
    prepopulated_fields = {"slug": ["name"]}
    fieldsets = [
        (None, {"fields": ["name", "slug", "is_active", "created"]}),
        (
            "Credential policy",
            {"fields": ["api_key_max_lifetime_days", "session_idle_timeout_minutes", "session_max_lifetime_hours"]},
        ),
        (
            "Security policy",
            {
                "fields": ["mfa_policy", "mfa_grace_days", "mfa_policy_since", "step_up_minutes"],
                "description": "Who must use a second factor at password login, how long members have to enrol "
                "once the policy applies to them, and how recent a check sensitive actions need.",
            },
        ),
        (
            "Single sign-on",
            {
                "fields": ["sso_enforced"],
                "description": "Refuse password login to addresses of the identity providers' domains; name "
                "break-glass owners on their memberships.",
            },
        ),
        ("Data protection", {"fields": ["erasure_deletes_messages"]}),
    ]

    def save_model(self, request, obj, form, change):
        policy = {name: form.cleaned_data[name] for name in mfa.POLICY_FIELDS if name in form.changed_data}
        enforce = change and "sso_enforced" in form.changed_data
        if change and (policy or enforce):
            # Policies go through their services (permission, audit); the rest of the form saves as usual.
            for name in [*policy, *(["sso_enforced"] if enforce else [])]:
                setattr(obj, name, form.initial[name])
            obj.save()
            if policy:
                self.call_service(request, mfa.security_policy_update, actor=request.user, org=obj, **policy)
            if enforce:
                self.call_service(
                    request, sso.sso_enforcement_update, actor=request.user, org=obj,
                    sso_enforced=form.cleaned_data["sso_enforced"],
                )  # fmt: skip
        else:
            obj.save()

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
    actions = ["deactivate", "reset_mfa"]

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
            if "sso_break_glass" in form.changed_data and getattr(request, "_service_error", None) is None:
                self.call_service(
                    request, sso.sso_enforcement_update, actor=request.user, org=obj.organization,
                    break_glass={obj.user_id: obj.sso_break_glass},
                )  # fmt: skip
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

    @admin.action(description="Reset MFA of the selected members (they enrol again at their next login)")
    def reset_mfa(self, request, queryset):
        done = sum(
            self.run_action(
                request, mfa.mfa_reset, actor=request.user, org=membership.organization, user=membership.user
            )
            for membership in queryset.select_related("organization", "user")
        )
        self.message_user(request, f"Reset the second factors of {done} member(s).")


@admin.register(Invitation)
class InvitationAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """Invitations are sent from the API or here; the token exists only in the e-mail, never on this page."""

    list_display = ["email", "organization", "role", "invited_by", "created", "expires_at", "accepted_at", "revoked_at"]
    list_filter = ["organization", "role"]
    search_fields = ["email"]
    list_select_related = ["organization", "invited_by"]
    readonly_fields = [f.name for f in Invitation._meta.fields if f.name != "token_digest"]
    exclude = ["token_digest"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke the selected open invitations")
    def revoke(self, request, queryset):
        done = sum(
            self.run_action(
                request, services.invitation_revoke, actor=request.user, org=invitation.organization,
                invitation=invitation,
            )
            for invitation in queryset.select_related("organization")
        )  # fmt: skip
        self.message_user(request, f"Revoked {done} invitation(s).")


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


# --- data-subject requests ----------------------------------------------------------------------------------------

from django.utils import timezone  # noqa: E402

from accounts.models import PrivacyRequest  # noqa: E402
from accounts.services import privacy  # noqa: E402


class OverdueFilter(admin.SimpleListFilter):
    title = "deadline"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "Overdue"), ("no", "Within deadline or closed")]

    def queryset(self, request, queryset):
        overdue = Q(status__in=PrivacyRequest.OPEN, due_at__lt=timezone.now())
        if self.value() == "yes":
            return queryset.filter(overdue)
        if self.value() == "no":
            return queryset.exclude(overdue)
        return queryset


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """The register for the privacy team: every request with its legal due date; closing goes through services."""

    list_display = ["id", "kind", "regulation", "subject", "received_at", "due_at", "overdue", "status", "handler"]
    list_filter = [OverdueFilter, "status", "kind", "regulation"]
    search_fields = ["=id", "subject__email", "=subject__id"]
    list_select_related = ["subject", "handler"]
    raw_id_fields = ["subject"]
    readonly_fields = ["status", "handler", "completed_at", "due_at", "execute_after"]
    fields = ["kind", "regulation", "subject", "received_at", "due_at", "execute_after", "status", "handler",
              "completed_at", "notes"]  # fmt: skip
    actions = ["complete", "reject", "execute_erasure_now"]

    @admin.display(boolean=True, description="overdue")
    def overdue(self, obj):
        return obj.is_overdue

    def has_delete_permission(self, request, obj=None):
        return False  # the register is the proof the requests were answered: rows are never deleted

    def get_readonly_fields(self, request, obj=None):
        # A request is entered once; afterwards only its notes change (and its status, through the actions).
        if obj is None:
            return self.readonly_fields
        return [name for name in self.fields if name != "notes"]

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["notes"])
            return
        created = self.call_service(
            request, privacy.privacy_request_create, subject=obj.subject, kind=obj.kind, regulation=obj.regulation,
            actor=request.user, notes=obj.notes, now=obj.received_at,
        )  # fmt: skip
        if created is not None:  # the admin's log entry and redirect need the saved row
            obj.pk, obj.due_at, obj.execute_after = created.pk, created.due_at, created.execute_after

    def _each(self, request, queryset, service, **kwargs):
        # run_action's own first argument is the HTTP request: the privacy request goes in as `row`.
        done = sum(self.run_action(request, service, actor=request.user, row=row, **kwargs) for row in queryset)
        if done:
            self.message_user(request, f"{done} request(s) updated.")

    @admin.action(description="Mark answered (access, portability)")
    def complete(self, request, queryset):
        self._each(request, queryset, lambda actor, row: privacy.privacy_request_complete(actor=actor, request=row))

    @admin.action(description="Reject (reason: the request's notes)")
    def reject(self, request, queryset):
        self._each(request, queryset, lambda actor, row: privacy.privacy_request_reject(
            actor=actor, request=row, reason=row.notes))  # fmt: skip

    @admin.action(description="Execute erasure now (skips the grace period)")
    def execute_erasure_now(self, request, queryset):
        self._each(request, queryset, lambda actor, row: privacy.privacy_erasure_execute(actor=actor, request=row))


# --- Organization export and import (docs/data-protection.md, "Moving an organization") ----------------------

from django.http import FileResponse, HttpResponseRedirect  # noqa: E402
from django.shortcuts import get_object_or_404  # noqa: E402
from django.urls import path, reverse  # noqa: E402
from django.utils.html import format_html  # noqa: E402

from accounts.models import ImportedAuditEvent, OrgExport, OrgImport  # noqa: E402
from accounts.services import portability  # noqa: E402
from chatapp.kernel.admin import SERVICE_ERRORS  # noqa: E402


@admin.register(OrgExport)
class OrgExportAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """Exports with their progress; "Add" queues a new one (the same service and Celery job as the API)."""

    list_display = ["id", "organization", "kind", "status", "progress_bar", "current_model", "created", "expires_at",
                    "download"]  # fmt: skip
    list_filter = ["status", "kind"]
    search_fields = ["organization__slug", "organization__name"]
    list_select_related = ["organization", "requested_by"]
    fields = ["organization", "kind", "format", "include_audit", "full_migration", "status", "progress_bar",
              "current_model", "rows_done", "rows_total", "counts", "requested_by", "created", "started_at",
              "finished_at", "expires_at", "size", "sha256", "error", "download"]  # fmt: skip
    readonly_fields = ["status", "progress_bar", "current_model", "rows_done", "rows_total", "counts", "requested_by",
                       "created", "started_at", "finished_at", "expires_at", "size", "sha256", "error",
                       "download"]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj is not None else self.readonly_fields  # a job is not edited, only followed

    def has_delete_permission(self, request, obj=None):
        return False  # the file goes at expiry; the row stays as the record of who exported what

    @admin.display(description="progress")
    def progress_bar(self, obj):
        return format_html(
            '<progress max="{}" value="{}"></progress> {} / {}', obj.rows_total or 1, obj.rows_done, obj.rows_done,
            obj.rows_total,
        )  # fmt: skip

    @admin.display(description="file")
    def download(self, obj):
        if obj.pk is None or obj.status != OrgExport.Status.DONE:
            return "-"
        return format_html('<a href="{}">download</a>', reverse("admin:accounts_orgexport_download", args=[obj.pk]))

    def get_urls(self):
        download = self.admin_site.admin_view(self.download_view)
        return [path("<int:pk>/download/", download, name="accounts_orgexport_download"), *super().get_urls()]

    def download_view(self, request, pk):
        job = get_object_or_404(OrgExport.objects.select_related("organization"), pk=pk)
        try:
            file = portability.org_export_download(actor=request.user, org=job.organization, job=job)
        except SERVICE_ERRORS as exc:  # refused (permission, expired): back to the list with the reason
            self.message_user(request, str(getattr(exc, "detail", exc)), level="warning")
            return HttpResponseRedirect(reverse("admin:accounts_orgexport_changelist"))
        return FileResponse(open(file, "rb"), as_attachment=True, filename=file.name, content_type="application/gzip")

    def save_model(self, request, obj, form, change):
        created = self.call_service(
            request, portability.org_export_request, actor=request.user, org=obj.organization, kind=obj.kind,
            fmt=obj.format, include_audit=obj.include_audit, full_migration=obj.full_migration,
        )  # fmt: skip
        if created is not None:
            obj.pk = created.pk


@admin.register(OrgImport)
class OrgImportAdmin(admin.ModelAdmin):
    """Imports made with `manage.py import_org` (read-only): what came in, what was matched or left out."""

    list_display = ["id", "organization", "status", "started_at", "finished_at", "archive_sha256"]
    list_filter = ["status"]
    list_select_related = ["organization"]

    def has_add_permission(self, request):
        return False  # imports run from the command line: `manage.py import_org archive.tar.gz --org <slug>`

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ImportedAuditEvent)
class ImportedAuditEventAdmin(admin.ModelAdmin):
    """Audit events of the source instance, imported beside (not into) this instance's audit trail."""

    list_display = ["source_sequence", "organization", "occurred_at", "event_name", "imported"]
    list_filter = ["event_name"]
    search_fields = ["organization__slug", "event_name"]
    list_select_related = ["organization", "imported"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
