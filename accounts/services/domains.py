"""Proof that an organization owns an e-mail domain: a DNS TXT record it publishes at our request.

Without it the first organization to list a domain on an identity provider would route (and, with "enforce
SSO", lock out) that domain's people. A verified claim wins the domain from unverified listings
(accounts.services.sso.providers_for_email), and with SSO_REQUIRE_VERIFIED_DOMAINS an identity provider may
only serve domains its organization has verified.
"""

import secrets
from urllib.parse import urlsplit

import dns.exception
import dns.nameserver
import dns.resolver
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import audit_events as events
from accounts.models import DomainClaim, Organization, User
from audit.models import Outcome
from audit.services import audit_record
from chatapp.kernel.errors import Conflict
from rbac.permissions import SSO_MANAGE
from rbac.services import require_perm
from rbac.services._common import same_org

DNS_TIMEOUT_SECONDS = 5.0


def _resolver() -> dns.resolver.Resolver:
    """The system's resolver, or DNS_NAMESERVERS ("host", "host:port" or "[v6]:port": tests, split-horizon DNS)."""
    if not settings.DNS_NAMESERVERS:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        servers = [urlsplit(f"//{entry}") for entry in settings.DNS_NAMESERVERS]
        resolver.nameservers = [dns.nameserver.Do53Nameserver(s.hostname, s.port or 53) for s in servers]
    resolver.lifetime = DNS_TIMEOUT_SECONDS
    return resolver


def txt_values(name: str) -> list[str]:
    """The TXT strings published at `name` ([] when there are none); raises DnsLookupError when DNS fails."""
    try:
        answer = _resolver().resolve(name, "TXT", raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return []
    except (dns.exception.DNSException, OSError) as exc:
        raise DnsLookupError(f"DNS lookup of {name} failed ({type(exc).__name__}); try again later") from None
    return [b"".join(record.strings).decode(errors="replace") for record in answer] if answer.rrset else []


class DnsLookupError(Exception):
    pass


@transaction.atomic
def domain_claim_create(*, actor: User, org: Organization, domain: str) -> DomainClaim:
    """Start claiming `domain` (sso.manage): the claim says which TXT record to publish before verifying."""
    from accounts.services.sso import _clean_domains  # one definition of a valid domain

    require_perm(user=actor, org=org, perm=SSO_MANAGE)
    domain = _clean_domains([domain])[0]
    if DomainClaim.objects.filter(domain=domain, status=DomainClaim.Status.VERIFIED).exclude(organization=org).exists():
        raise ValidationError({"domain": ["Another organization has verified this domain."]})
    claim = DomainClaim(organization=org, domain=domain, token=secrets.token_hex(16))
    try:
        with transaction.atomic():
            claim.save()
    except IntegrityError:
        raise Conflict("This organization already claims this domain.") from None
    audit_record(org=org, event=events.DOMAIN_CLAIMED, actor=actor, target=claim, metadata={"domain": domain})
    return claim


def domain_claim_verify(*, actor: User, org: Organization, claim: DomainClaim) -> DomainClaim:
    """Look for the claim's TXT record now (sso.manage); verified claims stay verified. The DNS query runs
    outside any transaction (it can take seconds); the result is written under a row lock."""
    require_perm(user=actor, org=org, perm=SSO_MANAGE)
    same_org(org, claim)
    if claim.status == DomainClaim.Status.VERIFIED:
        return claim
    try:
        found = claim.record_value in txt_values(claim.record_name)
        error = "" if found else f"No TXT record {claim.record_name} with the expected value was found."
    except DnsLookupError as exc:
        found, error = False, str(exc)
    with transaction.atomic():
        locked = DomainClaim.objects.select_for_update().get(pk=claim.pk)
        locked.last_checked_at = timezone.now()
        locked.last_error = error[:300]
        if found:
            locked.status, locked.verified_at = DomainClaim.Status.VERIFIED, locked.last_checked_at
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError:  # another organization verified it a moment ago
            raise Conflict("Another organization has verified this domain.") from None
        audit_record(
            org=org, event=events.DOMAIN_VERIFIED if found else events.DOMAIN_VERIFICATION_FAILED, actor=actor,
            target=locked, outcome=Outcome.SUCCESS if found else Outcome.FAILURE,
            metadata={"domain": locked.domain, **({"error": locked.last_error} if not found else {})},
        )  # fmt: skip
    return locked


@transaction.atomic
def domain_claim_delete(*, actor: User, org: Organization, claim: DomainClaim) -> None:
    """Give up a claim (sso.manage); a verified domain then routes as if it had never been verified."""
    require_perm(user=actor, org=org, perm=SSO_MANAGE)
    same_org(org, claim)
    audit_record(
        org=org, event=events.DOMAIN_RELEASED, actor=actor, target=claim,
        metadata={"domain": claim.domain, "was_verified": claim.status == DomainClaim.Status.VERIFIED},
    )  # fmt: skip
    DomainClaim.objects.filter(pk=claim.pk, organization=org).delete()


def verified_owner(domain: str) -> int | None:
    """The id of the organization holding a verified claim to `domain`, if any."""
    return (
        DomainClaim.objects.filter(domain=domain, status=DomainClaim.Status.VERIFIED)
        .values_list("organization_id", flat=True)
        .first()
    )
