"""Enterprise single sign-on: an organization's connections to its identity providers (SAML, OIDC, LDAP)."""

import uuid

from django.db import models
from django.utils import timezone

from accounts.models.people import Membership, Organization, slug_validator
from chatapp.kernel.encryption.fields import EncryptedJSONField


class IdentityProvider(models.Model):
    """One connection of an organization to an identity provider; an organization may have several.

    `email_domains` route logins (email-first page, discovery) and decide whom "enforce SSO" applies to.
    `config` holds the kind's non-secret settings (validated by the kind registered in accounts.sso.kinds);
    `secrets` (client secrets, SP private keys, bind passwords) is encrypted at rest and never leaves the
    server: the API and admin only say which secret fields are set.
    """

    class Kind(models.TextChoices):
        SAML = "saml", "SAML 2.0"
        OIDC = "oidc", "OpenID Connect"
        LDAP = "ldap", "LDAP / Active Directory"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="identity_providers")
    encryption_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    slug = models.SlugField(
        max_length=50, validators=[slug_validator],
        help_text="Names this connection in URLs and in identity-group mappings (unique in the organization).",
    )  # fmt: skip
    name = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    email_domains = models.JSONField(
        default=list, blank=True, help_text="Lower-case e-mail domains whose users sign in through this provider."
    )
    jit_provisioning = models.BooleanField(
        "JIT provisioning", default=False,
        help_text="Create the user and their membership at their first sign-in (off: only existing members).",
    )  # fmt: skip
    default_role = models.CharField(
        max_length=16, choices=Membership.Role.choices, default=Membership.Role.MEMBER,
        help_text="Base role of members created at sign-in (never owner).",
    )  # fmt: skip
    attribute_map = models.JSONField(
        default=dict, blank=True, help_text='IdP attribute names: {"email": ..., "full_name": ..., "groups": ...}.'
    )
    config = models.JSONField(default=dict, blank=True)
    secrets = EncryptedJSONField(default=dict, blank=True)
    allow_idp_initiated = models.BooleanField(
        "allow IdP-initiated login", default=False, help_text="SAML only: accept responses nobody asked for."
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization", "name"]
        constraints = [models.UniqueConstraint(fields=["organization", "slug"], name="idp_slug_unique_per_org")]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"


class DomainClaim(models.Model):
    """An organization's claim to an e-mail domain, proven by a DNS TXT record it was asked to publish.

    A verified claim wins the domain: logins for its addresses route only to that organization's identity
    providers, whoever listed the domain first (accounts.services.sso.providers_for_email). At most one
    organization holds a verified claim to a domain.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the DNS record"
        VERIFIED = "verified", "Verified"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="domain_claims")
    domain = models.CharField(max_length=253)
    token = models.CharField(max_length=64, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    verified_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["organization", "domain"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "domain"], name="domain_claim_unique_per_org"),
            models.UniqueConstraint(
                fields=["domain"], condition=models.Q(status="verified"), name="domain_verified_once"
            ),
        ]

    def __str__(self):
        return f"{self.domain} ({self.get_status_display()})"

    @property
    def record_name(self) -> str:
        return f"_chatapp-challenge.{self.domain}"

    @property
    def record_value(self) -> str:
        return f"chatapp-domain-verification={self.token}"
