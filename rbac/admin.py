"""Admin for roles, teams, grants and identity-group mappings. Every save and delete goes through a service."""

from itertools import groupby

from django import forms
from django.contrib import admin

from chatapp.kernel.admin import SERVICE_ERRORS, ServiceAdminMixin, service_error_text
from rbac.models import AccessReview, AccessReviewItem, Grant, IdentityGroupMapping, Role, Team, TeamMember
from rbac.registry import permissions
from rbac.services import grants as grant_services
from rbac.services import reviews, roles, teams, whatif

PREVIEW = "_preview"


def permission_choices():
    """The registry's codes grouped by area (the part before the dot), for grouped checkboxes."""
    by_area = groupby(permissions, key=lambda permission: permission.key.split(".", 1)[0])
    return [
        (area.replace("_", " ").title(), [(p.key, f"{p.key} — {p.description}") for p in entries])
        for area, entries in by_area
    ]


class RoleForm(forms.ModelForm):
    permissions = forms.MultipleChoiceField(
        choices=permission_choices, widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = Role
        fields = ["organization", "name", "description", "base_role", "permissions"]


class ServiceDeleteMixin(ServiceAdminMixin):
    """Bulk deletion runs the service per row, so refusals are reported and nothing bypasses the rules."""

    def delete_service_call(self, request, obj) -> bool:
        raise NotImplementedError

    def delete_model(self, request, obj):
        self.call_service(request, self.delete_service_call, request_=request, obj=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.run_action(request, self.delete_service_call, request_=request, obj=obj)

    def response_delete(self, request, obj_display, obj_id):
        error = getattr(request, "_service_error", None)
        if error is not None:
            from django.contrib import messages
            from django.http import HttpResponseRedirect

            self.message_user(request, f"Not deleted: {error}", messages.ERROR)
            return HttpResponseRedirect(request.path.rsplit("/delete/", 1)[0] + "/change/")
        return super().response_delete(request, obj_display, obj_id)


@admin.register(Role)
class RoleAdmin(ServiceDeleteMixin, admin.ModelAdmin):
    form = RoleForm
    list_display = ["name", "organization", "is_built_in", "base_role", "permission_count"]
    list_filter = ["is_built_in", "organization"]
    search_fields = ["name", "organization__slug"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization"]
    show_full_result_count = False

    change_form_template = "admin/rbac/role/change_form.html"

    def get_form(self, request, obj=None, change=False, **kwargs):
        """On "Preview changes", the form computes the what-if of the pending edit and refuses to save, so the
        page comes back with the edit still in place and the preview above it."""
        form = super().get_form(request, obj, change=change, **kwargs)
        if not (request.method == "POST" and PREVIEW in request.POST and obj is not None):
            return form

        class PreviewRoleForm(form):
            def clean(self):
                data = super().clean()
                if self.errors:
                    return data
                try:
                    self.rbac_preview = whatif.preview_role_update(
                        actor=request.user,
                        org=obj.organization,
                        role=obj,
                        name=data["name"],
                        description=data.get("description", ""),
                        base_role=data.get("base_role", ""),
                        permissions=data.get("permissions", []),
                    )
                except SERVICE_ERRORS as exc:
                    raise forms.ValidationError(f"This change would be refused: {service_error_text(exc)}") from None
                raise forms.ValidationError("Preview only: nothing was saved. Press Save to apply this change.")

        return PreviewRoleForm

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        form = getattr(context.get("adminform"), "form", None)
        context["rbac_preview"] = getattr(form, "rbac_preview", None)
        context["rbac_can_preview"] = change and obj is not None and not obj.is_built_in
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def has_change_permission(self, request, obj=None):
        # Built-in roles are shown read-only: their codes come from rbac/roles.py.
        return super().has_change_permission(request, obj) and not (obj and obj.is_built_in)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj and obj.is_built_in)

    def get_fields(self, request, obj=None):
        if obj is not None and obj.is_built_in:
            return ["organization", "name", "description", "base_role", "effective_permissions"]
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_built_in:
            return ["organization", "name", "description", "base_role", "effective_permissions"]
        return ["organization"] if obj else []

    @admin.display(description="Effective permissions")
    def effective_permissions(self, obj):
        return ", ".join(sorted(obj.codes))

    @admin.display(description="Permissions")
    def permission_count(self, obj):
        return len(obj.codes)

    def save_model(self, request, obj, form, change):
        values = {
            "name": form.cleaned_data["name"],
            "description": form.cleaned_data.get("description", ""),
            "base_role": form.cleaned_data.get("base_role", ""),
            "permissions": form.cleaned_data.get("permissions", []),
        }
        if change:
            self.call_service(request, roles.role_update, actor=request.user, org=obj.organization, role=obj, **values)
        else:
            saved = self.call_service(request, roles.role_create, actor=request.user, org=obj.organization, **values)
            if saved is not None:
                obj.pk = saved.pk

    def delete_service_call(self, request_, obj):
        return roles.role_delete(actor=request_.user, org=obj.organization, role=obj)


class TeamMemberInline(admin.TabularInline):
    model = TeamMember
    fk_name = "team"
    extra = 1
    fields = ["user", "is_maintainer", "added"]
    readonly_fields = ["added"]
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(ServiceDeleteMixin, admin.ModelAdmin):
    list_display = ["name", "organization", "parent", "created"]
    list_filter = ["organization"]
    search_fields = ["name", "organization__slug"]
    list_select_related = ["organization", "parent"]
    autocomplete_fields = ["organization", "parent"]
    inlines = [TeamMemberInline]
    fields = ["organization", "name", "description", "parent"]

    def get_readonly_fields(self, request, obj=None):
        return ["organization"] if obj else []

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            self.call_service(
                request,
                teams.team_update,
                actor=request.user,
                org=obj.organization,
                team=obj,
                name=data["name"],
                description=data.get("description", ""),
                parent=data.get("parent"),
            )
        else:
            saved = self.call_service(
                request,
                teams.team_create,
                actor=request.user,
                org=obj.organization,
                name=data["name"],
                description=data.get("description", ""),
                parent=data.get("parent"),
            )
            if saved is not None:
                obj.pk = saved.pk

    def save_formset(self, request, form, formset, change):
        # The admin's change message reads these; the rows themselves are written by the services below.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if getattr(request, "_service_error", None) is not None:
            return
        team = form.instance
        for inline_form in formset.forms:
            if not inline_form.has_changed() and not (inline_form.cleaned_data or {}).get("DELETE"):
                continue
            data = inline_form.cleaned_data or {}
            user = data.get("user")
            if user is None:
                continue
            if data.get("DELETE"):
                self.call_service(
                    request, teams.team_member_remove, actor=request.user, org=team.organization, team=team, user=user
                )
            else:
                self.call_service(
                    request,
                    teams.team_member_add,
                    actor=request.user,
                    org=team.organization,
                    team=team,
                    user=user,
                    is_maintainer=data.get("is_maintainer", False),
                )

    def delete_service_call(self, request_, obj):
        return teams.team_delete(actor=request_.user, org=obj.organization, team=obj)


class GrantForm(forms.ModelForm):
    class Meta:
        model = Grant
        fields = ["organization", "role", "user", "team", "resource_type", "resource_id", "expires_at"]


@admin.register(Grant)
class GrantAdmin(ServiceDeleteMixin, admin.ModelAdmin):
    form = GrantForm
    list_display = ["role", "user", "team", "resource_type", "resource_id", "expires_at", "organization", "created"]
    list_filter = ["organization", "resource_type"]
    search_fields = ["role__name", "user__email", "team__name", "organization__slug"]
    list_select_related = ["organization", "role", "user", "team"]
    autocomplete_fields = ["organization", "role", "user", "team"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)  # revoke and re-grant

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        resource = None
        if data.get("resource_id") is not None:
            resource = self.call_service(
                request,
                grant_services.grant_resource,
                org=obj.organization,
                resource_type=data.get("resource_type", ""),
                resource_id=data["resource_id"],
            )
            if resource is None:
                return
        saved = self.call_service(
            request,
            grant_services.grant_create,
            actor=request.user,
            org=obj.organization,
            role=data["role"],
            user=data.get("user"),
            team=data.get("team"),
            resource=resource,
            expires_at=data.get("expires_at"),
        )
        if saved is not None:
            obj.pk = saved.pk

    def delete_service_call(self, request_, obj):
        return grant_services.grant_revoke(actor=request_.user, org=obj.organization, grant=obj)


@admin.register(IdentityGroupMapping)
class IdentityGroupMappingAdmin(ServiceDeleteMixin, admin.ModelAdmin):
    list_display = ["group_name", "provider", "team", "role", "organization"]
    list_filter = ["organization", "provider"]
    search_fields = ["group_name", "organization__slug"]
    list_select_related = ["organization", "team", "role"]
    autocomplete_fields = ["organization", "team", "role"]
    fields = ["organization", "provider", "group_name", "team", "role"]

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = self.call_service(
            request,
            grant_services.mapping_create,
            actor=request.user,
            org=obj.organization,
            group_name=data["group_name"],
            provider=data.get("provider", ""),
            team=data.get("team"),
            role=data.get("role"),
        )
        if saved is not None:
            obj.pk = saved.pk

    def delete_service_call(self, request_, obj):
        return grant_services.mapping_delete(actor=request_.user, org=obj.organization, mapping=obj)


class AccessReviewForm(forms.ModelForm):
    class Meta:
        model = AccessReview
        fields = [
            "organization", "name", "description", "scope", "scope_role", "scope_team", "scope_resource_type",
            "reviewer_kind", "reviewer_users", "due_at", "default_action", "inactive_days",
        ]  # fmt: skip


class AccessReviewItemInline(admin.TabularInline):
    model = AccessReviewItem
    fk_name = "review"
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["kind", "user", "team_name", "role_name", "scope_label", "last_login", "last_activity", "inactive",
              "decision", "decided_by", "decided_at", "outcome"]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "decided_by")


@admin.register(AccessReview)
class AccessReviewAdmin(ServiceDeleteMixin, admin.ModelAdmin):
    """Campaigns are created, opened and closed through the services; items are decided on the items page."""

    form = AccessReviewForm
    list_display = ["name", "organization", "scope", "status", "due_at", "default_action", "created"]
    list_filter = ["status", "scope", "organization"]
    search_fields = ["name", "organization__slug"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization", "scope_role", "scope_team", "reviewer_users"]
    inlines = [AccessReviewItemInline]
    actions = ["open_reviews", "close_reviews"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["organization", "scope", "scope_role", "scope_team", "scope_resource_type", "inactive_days"]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        common = {
            "name": data["name"],
            "description": data.get("description", ""),
            "due_at": data["due_at"],
            "default_action": data["default_action"],
            "reviewer_kind": data["reviewer_kind"],
            "reviewers": list(data.get("reviewer_users") or ()),
        }
        if change:
            self.call_service(
                request, reviews.review_update, actor=request.user, org=obj.organization, review=obj, **common
            )
            return
        saved = self.call_service(
            request,
            reviews.review_create,
            actor=request.user,
            org=obj.organization,
            scope=data["scope"],
            role=data.get("scope_role"),
            team=data.get("scope_team"),
            resource_type=data.get("scope_resource_type", ""),
            inactive_days=data.get("inactive_days") or 90,
            **common,
        )
        if saved is not None:
            obj.pk = saved.pk

    def save_related(self, request, form, formsets, change):
        # The services set the reviewers and snapshot the items; the admin's change message reads these.
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def delete_service_call(self, request_, obj):
        return reviews.review_delete(actor=request_.user, org=obj.organization, review=obj)

    @admin.action(description="Open the selected reviews")
    def open_reviews(self, request, queryset):
        done = sum(
            self.run_action(request, reviews.review_open, actor=request.user, org=review.organization, review=review)
            for review in queryset.select_related("organization")
        )
        self.message_user(request, f"{done} review(s) opened.")

    @admin.action(description="Close the selected reviews (undecided items get the default action)")
    def close_reviews(self, request, queryset):
        done = sum(
            self.run_action(request, reviews.review_close, actor=request.user, org=review.organization, review=review)
            for review in queryset.select_related("organization")
        )
        self.message_user(request, f"{done} review(s) closed.")


@admin.register(AccessReviewItem)
class AccessReviewItemAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """Items are snapshots: read-only here, decided with the bulk actions (through `item_decide`)."""

    list_display = ["__str__", "review", "kind", "scope_label", "last_login", "last_activity", "inactive",
                    "decision", "decided_by", "decided_at", "outcome"]  # fmt: skip
    list_filter = ["decision", "kind", "inactive", "outcome", "review"]
    search_fields = ["user__email", "team_name", "role_name", "review__name"]
    list_select_related = ["review", "user", "decided_by"]
    show_full_result_count = False
    actions = ["keep_items", "revoke_items"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _decide(self, request, queryset, decision):
        done = 0
        for item in queryset.select_related("organization"):
            done += self.run_action(
                request, reviews.item_decide, actor=request.user, org=item.organization, item=item,
                decision=decision, comment=f"Decided in bulk in the admin ({decision}).",
            )  # fmt: skip
        self.message_user(request, f"{done} item(s) decided: {decision}.")

    @admin.action(description="Keep the selected items")
    def keep_items(self, request, queryset):
        self._decide(request, queryset, AccessReviewItem.Decision.KEEP)

    @admin.action(description="Revoke the selected items")
    def revoke_items(self, request, queryset):
        self._decide(request, queryset, AccessReviewItem.Decision.REVOKE)
