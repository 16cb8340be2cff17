"""Admin for identity providers: the same validation and services as the API, secrets as write-only inputs.

Imported by accounts/admin.py. The form shows one password-style input per secret field of the registered
kinds (empty = keep what is stored) and a checkbox list to clear some; stored values are never rendered.
"""

import copy

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from accounts.models import DomainClaim, IdentityProvider
from accounts.services import domains, sso
from accounts.sso import kinds
from accounts.sso.ldap_admin import check_ldap_connection
from chatapp.kernel.admin import SERVICE_ERRORS, ServiceAdminMixin, service_error_text

SECRET_PREFIX = "secret__"


def _all_secret_fields() -> dict[str, list[str]]:
    """{secret field: [kinds that take it]} over the registered kinds."""
    fields: dict[str, list[str]] = {}
    for kind in kinds.registered().values():
        for name in kind.secret_fields:
            fields.setdefault(name, []).append(kind.name)
    return fields


class DomainsField(forms.CharField):
    """A JSON list edited as one domain per line (or comma-separated)."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        return [part.strip() for part in (value or "").replace(",", "\n").splitlines() if part.strip()]


class WriteOnlyTextarea(forms.Textarea):
    """For multi-line secrets (PEM keys): never renders a value, not even the one just posted."""

    def get_context(self, name, value, attrs):
        return super().get_context(name, None, attrs)


class IdentityProviderForm(forms.ModelForm):
    email_domains = DomainsField(required=False, help_text="One domain per line, e.g. example.com.")
    clear_secrets = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, help_text="Remove these stored secrets."
    )

    class Meta:
        model = IdentityProvider
        fields = [
            "organization", "kind", "slug", "name", "enabled", "email_domains", "jit_provisioning", "default_role",
            "attribute_map", "config", "allow_idp_initiated",
        ]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = set(sso.secrets_set(self.instance)) if self.instance.pk else set()
        for name, field in self.fields.items():
            if name.startswith(SECRET_PREFIX):
                state = "set; leave empty to keep" if name.removeprefix(SECRET_PREFIX) in stored else "not set"
                field.help_text = f"Write-only ({state}). {field.help_text}"
        self.fields["clear_secrets"].choices = [(name, name) for name in sorted(stored)]
        # The kinds this server offers are the registered ones (a protocol module not installed is not offered).
        labels = dict(IdentityProvider.Kind.choices)
        self.fields["kind"].choices = [("", "---------")] + [(k, labels.get(k, k)) for k in sorted(kinds.registered())]
        if self.instance.pk:
            # The kind decides the shape of config and secrets: it is chosen once.
            self.fields["kind"].disabled = True
            self.fields["organization"].disabled = True

    def secrets_given(self) -> dict:
        given = {
            name.removeprefix(SECRET_PREFIX): value
            for name, value in self.cleaned_data.items()
            if name.startswith(SECRET_PREFIX) and value
        }
        for name in self.cleaned_data.get("clear_secrets") or ():
            given[name] = None
        return given

    def _get_validation_exclusions(self):
        # The registry validates the kind (below), not the model's list of choices.
        return {*super()._get_validation_exclusions(), "kind"}

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        # The same validation as the services (core and the kind's), on a copy carrying the new secrets.
        candidate = copy.copy(self.instance)
        candidate.secrets = sso._merge_secrets(
            dict(self.instance.secrets or {}) if self.instance.pk else {}, self.secrets_given()
        )
        try:
            sso.identity_provider_validate(candidate)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                target = field if field in self.fields else None
                for message in messages:
                    self.add_error(target, message if target else f"{field}: {message}")
        else:
            self.instance.email_domains = candidate.email_domains


@admin.register(IdentityProvider)
class IdentityProviderAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = IdentityProviderForm
    list_display = ["name", "organization", "kind", "slug", "enabled", "domain_list", "jit_provisioning"]
    list_filter = ["kind", "enabled", "organization"]
    search_fields = ["name", "slug", "organization__slug"]
    list_select_related = ["organization"]
    readonly_fields = ["secrets_stored", "created", "updated"]
    actions = [check_ldap_connection]

    def get_form(self, request, obj=None, change=False, **kwargs):
        # One input per secret field of the registered kinds (of this provider's kind once it exists), declared
        # on the class so that the admin lays them out with the rest.
        secret_inputs = {
            f"{SECRET_PREFIX}{name}": forms.CharField(
                label=name.replace("_", " ").capitalize(), required=False, strip=False,
                widget=WriteOnlyTextarea(attrs={"rows": 4}) if name.endswith("_key") else forms.PasswordInput(),
                help_text=f"For: {', '.join(kind_names)}.",
            )
            for name, kind_names in _all_secret_fields().items()
            if obj is None or obj.kind in kind_names
        }  # fmt: skip
        kwargs["form"] = type("IdentityProviderForm", (self.form,), secret_inputs)
        return super().get_form(request, obj, change=change, **kwargs)

    @admin.display(description="Domains")
    def domain_list(self, obj):
        return ", ".join(obj.email_domains or [])

    @admin.display(description="Secrets stored")
    def secrets_stored(self, obj):
        return (", ".join(sso.secrets_set(obj)) or "none") if obj.pk else "-"

    def save_model(self, request, obj, form, change):
        fields = {
            name: form.cleaned_data[name] for name in IdentityProviderForm.Meta.fields if name in form.cleaned_data
        }
        secrets = form.secrets_given()
        if change:
            fields.pop("organization", None)
            fields.pop("kind", None)
            saved = self.call_service(
                request, sso.identity_provider_update, actor=request.user, org=obj.organization, provider=obj,
                secrets=secrets or None, **fields,
            )  # fmt: skip
        else:
            org = fields.pop("organization")
            saved = self.call_service(
                request, sso.identity_provider_create, actor=request.user, org=org, secrets=secrets, **fields
            )
        if saved is not None:
            obj.pk = saved.pk

    def delete_model(self, request, obj):
        self.run_action(request, sso.identity_provider_delete, actor=request.user, org=obj.organization, provider=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset.select_related("organization"):
            self.run_action(request, sso.identity_provider_delete, actor=request.user, org=obj.organization,
                            provider=obj)  # fmt: skip


@admin.register(DomainClaim)
class DomainClaimAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """Claims are made here or over the API; the page shows the TXT record to publish and verifies it."""

    list_display = ["domain", "organization", "status", "verified_at", "last_checked_at", "last_error"]
    list_filter = ["status", "organization"]
    search_fields = ["domain", "organization__slug"]
    list_select_related = ["organization"]
    fields = ["organization", "domain", "status", "record_name", "record_value", "verified_at", "last_checked_at",
              "last_error"]  # fmt: skip
    readonly_fields = ["status", "record_name", "record_value", "verified_at", "last_checked_at", "last_error"]
    actions = ["verify_now"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "organization", "domain"] if obj else self.readonly_fields

    @admin.display(description="TXT record name")
    def record_name(self, obj):
        return obj.record_name if obj.pk else "shown after saving"

    @admin.display(description="TXT record value")
    def record_value(self, obj):
        return obj.record_value if obj.pk else "shown after saving"

    def save_model(self, request, obj, form, change):
        if change:
            return  # nothing is editable once claimed
        saved = self.call_service(
            request, domains.domain_claim_create, actor=request.user, org=obj.organization, domain=obj.domain
        )
        if saved is not None:
            obj.pk = saved.pk

    @admin.action(description="Look up the TXT record now")
    def verify_now(self, request, queryset):
        for claim in queryset.select_related("organization"):
            verified = None
            try:
                verified = domains.domain_claim_verify(actor=request.user, org=claim.organization, claim=claim)
            except SERVICE_ERRORS as exc:
                self.message_user(request, f"{claim.domain}: {service_error_text(exc)}", messages.WARNING)
                continue
            if verified.status == DomainClaim.Status.VERIFIED:
                self.message_user(request, f"{claim.domain} is verified.", messages.SUCCESS)
            else:
                self.message_user(request, f"{claim.domain}: {verified.last_error}", messages.WARNING)

    def delete_model(self, request, obj):
        self.run_action(request, domains.domain_claim_delete, actor=request.user, org=obj.organization, claim=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset.select_related("organization"):
            self.run_action(request, domains.domain_claim_delete, actor=request.user, org=obj.organization, claim=obj)
