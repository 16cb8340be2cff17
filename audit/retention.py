"""Checkpoints and the retention purge: the only path that may delete audit rows.

A purge deletes a prefix of a chain: every event up to the last sequence S such that S and all events before it
are past their category's retention. Before deleting, it signs a checkpoint at S; afterwards the chain's base is
(S, hash of S), so verification starts there and the signed checkpoint vouches for it. Because only prefixes go,
an event is kept until it and every earlier event of its chain have expired: retention per category is a
minimum, and the longest-kept category sets the pace (docs/audit.md, "Retention").
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from audit import audit_events as events
from audit import signing
from audit.models import (
    PLATFORM_CHAIN,
    AuditChain,
    AuditCheckpoint,
    AuditEvent,
    AuditPurgePermit,
    AuditRedaction,
    RetentionPolicy,
)
from audit.registry import Category
from audit.services import Actor, audit_record, diff


def checkpoint_at(*, chain_id: int, sequence: int, head_hash: str) -> AuditCheckpoint:
    # an organization's id for both its chains (its API-call chain is the negative id); none for the platform
    """Sign (chain, sequence, hash, count, time); one checkpoint per sequence, so calling it twice is harmless."""
    existing = AuditCheckpoint.objects.filter(chain=chain_id, sequence=sequence).first()
    if existing is not None:
        return existing
    created_at = timezone.now()
    payload = signing.checkpoint_payload(
        chain=chain_id, sequence=sequence, head_hash=head_hash, event_count=sequence, created_at=created_at
    )
    key_id, signature = signing.sign(payload)
    checkpoint, _ = AuditCheckpoint.objects.get_or_create(
        chain=chain_id,
        sequence=sequence,
        defaults={
            "organization_id": abs(chain_id) or None,
            "head_hash": head_hash,
            "event_count": sequence,
            "created_at": created_at,
            "key_id": key_id,
            "signature": signature,
        },
    )
    return checkpoint


def checkpoint_verify(checkpoint: AuditCheckpoint, public_keys: dict[str, str] | None = None) -> bool:
    keys = public_keys if public_keys is not None else signing.public_keys()
    if checkpoint.key_id not in keys:
        return False
    payload = signing.checkpoint_payload(
        chain=checkpoint.chain, sequence=checkpoint.sequence, head_hash=checkpoint.head_hash,
        event_count=checkpoint.event_count, created_at=checkpoint.created_at,
    )  # fmt: skip
    return signing.verify_signature(payload, checkpoint.signature, keys[checkpoint.key_id])


def checkpoints_daily() -> int:
    """Sign the head of every chain that grew since its last checkpoint (Celery beat, daily)."""
    made = 0
    for head in AuditChain.objects.exclude(last_sequence=0):
        if not AuditCheckpoint.objects.filter(chain=head.chain, sequence=head.last_sequence).exists():
            checkpoint_at(chain_id=head.chain, sequence=head.last_sequence, head_hash=head.last_hash)
            made += 1
    return made


def _cut(chain_id: int, policy: RetentionPolicy, now) -> int:
    """The last sequence that may go: just before the oldest event still inside its category's retention."""
    first_kept = None
    for category in Category.values:
        cutoff = now - timedelta(days=policy.days_for(category))
        oldest = AuditEvent.objects.filter(chain=chain_id, category=category, occurred_at__gte=cutoff).aggregate(
            first=Min("sequence")
        )["first"]
        if oldest is not None and (first_kept is None or oldest < first_kept):
            first_kept = oldest
    if first_kept is None:  # everything has expired: keep the head, so the chain always has its latest event
        first_kept = AuditChain.objects.get(chain=chain_id).last_sequence
    return first_kept - 1


def retention_purge(*, org, now=None, batch: int = 5000) -> int:
    """Delete the organization's expired audit events, in both its chains (none under legal hold)."""
    from audit.api_requests import api_chain_id

    now = now or timezone.now()
    policy = RetentionPolicy.objects.filter(organization=org).first() or RetentionPolicy(organization=org)
    if policy.legal_hold:
        return 0
    return sum(
        _purge_chain(org=org, chain_id=chain_id, policy=policy, now=now, batch=batch)
        for chain_id in (org.pk, api_chain_id(org.pk))
    )


def _purge_chain(*, org, chain_id: int, policy: RetentionPolicy, now, batch: int) -> int:
    head = AuditChain.objects.filter(chain=chain_id).first()
    if head is None:
        return 0
    cut = _cut(chain_id, policy, now)
    if cut <= head.base_sequence:
        return 0
    cut_hash = AuditEvent.objects.get(chain=chain_id, sequence=cut).hash
    checkpoint = checkpoint_at(chain_id=chain_id, sequence=cut, head_hash=cut_hash)
    deleted = 0
    base = head.base_sequence
    while base < cut:
        end = min(base + batch, cut)
        with transaction.atomic():
            AuditChain.objects.select_for_update().get(chain=chain_id)
            end_hash = AuditEvent.objects.get(chain=chain_id, sequence=end).hash
            permit = AuditPurgePermit.objects.create()
            count, _ = AuditEvent.objects.filter(chain=chain_id, sequence__gt=base, sequence__lte=end).delete()
            permit.delete()
            AuditRedaction.objects.filter(chain=chain_id, sequence__gt=base, sequence__lte=end).delete()
            AuditChain.objects.filter(chain=chain_id).update(base_sequence=end, base_hash=end_hash)
        deleted += count
        base = end
    with transaction.atomic():
        audit_record(
            org=org, event=events.AUDIT_PURGED, actor=Actor.system("audit retention purge"),
            metadata={"chain": chain_id, "deleted": deleted, "through_sequence": cut, "checkpoint_id": checkpoint.pk},
        )  # fmt: skip
    return deleted


def retention_purge_all(*, now=None) -> dict[int, int]:
    """The daily purge over every organization (Celery beat). Platform events are kept."""
    from accounts.models import Organization

    chains = AuditChain.objects.exclude(chain=PLATFORM_CHAIN).values_list("chain", flat=True)
    org_ids = {abs(chain) for chain in chains}  # an organization's API-call chain is its negative id
    return {org.pk: retention_purge(org=org, now=now) for org in Organization.objects.filter(pk__in=org_ids)}


@transaction.atomic
def retention_policy_update(*, actor, org, category_days=None, legal_hold=None, legal_hold_reason=None):
    """Change how long the organization keeps audit events, or put it under legal hold (owners: org.manage)."""
    from django.core.exceptions import ValidationError

    from accounts.permissions import ORG_MANAGE
    from rbac.services import require_perm

    require_perm(user=actor, org=org, perm=ORG_MANAGE)
    policy, _ = RetentionPolicy.objects.select_for_update().get_or_create(organization=org)
    before = {"category_days": dict(policy.category_days), "legal_hold": policy.legal_hold,
              "legal_hold_reason": policy.legal_hold_reason}  # fmt: skip
    if category_days is not None:
        unknown = sorted(set(category_days) - set(Category.values))
        if unknown:
            raise ValidationError({"category_days": [f"Unknown categories: {', '.join(unknown)}."]})
        if any(not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 36500
               for days in category_days.values()):  # fmt: skip
            raise ValidationError({"category_days": ["Each value is a whole number of days from 1 to 36500."]})
        policy.category_days = dict(category_days)
    if legal_hold is not None:
        policy.legal_hold = legal_hold
    if legal_hold_reason is not None:
        policy.legal_hold_reason = legal_hold_reason
    policy.save()
    after = {"category_days": policy.category_days, "legal_hold": policy.legal_hold,
             "legal_hold_reason": policy.legal_hold_reason}  # fmt: skip
    audit_record(org=org, event=events.RETENTION_CHANGED, actor=actor, target=org, changes=diff(before, after))
    return policy
