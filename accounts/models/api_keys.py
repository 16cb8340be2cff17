"""API keys: long-lived bearer credentials for scripts and integrations, personal or of a service account."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from chatapp.kernel.models import TenantModel


class ServiceAccount(TenantModel):
    """A non-human principal of one organization.

    It is backed by a User with no usable password and a Membership in the organization, so that everything
    rbac knows (base role, grants, teams) applies to it unchanged, and deactivating that membership stops its
    keys at once. The user never logs in; it only owns keys.
    """

    name = models.CharField(max_length=80)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="service_account")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="service_account_name_unique")]
        ordering = ["name"]

    def __str__(self):
        return self.name


class ApiKey(TenantModel):
    """One API key. The secret is never stored: only its HMAC-SHA256 under API_KEY_HMAC_KEY (`digest`).

    A key acts as its owner (a person, or a service account's user) in its own organization only, with at most
    its scopes: what a request may do is scopes ∩ the owner's current permissions, evaluated by rbac per request.
    """

    class Kind(models.TextChoices):
        PERSONAL = "personal", "Personal"
        SERVICE = "service", "Service account"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    service_account = models.ForeignKey(
        ServiceAccount, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=80)
    # The first characters of the key (type prefix and 6 of its random body): enough to recognise a key in a
    # list or a leak report, far too little to guess the rest.
    prefix = models.CharField(max_length=16)
    digest = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list, help_text="Permission codes this key may use (never more than its owner).")
    write = models.BooleanField(default=False, help_text="Without it, the key may only read (GET, HEAD, OPTIONS).")
    allowed_ips = models.JSONField(default=list, blank=True, help_text="CIDR ranges; empty: any address.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=200, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    rotated_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="rotated_to"
    )
    expiry_warned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "owner"], name="api_key_org_owner"),
            models.Index(fields=["expires_at"], name="api_key_expires"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="personal", service_account__isnull=True)
                | models.Q(kind="service", service_account__isnull=False),
                name="api_key_kind_matches_owner",
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now
