"""Reads of the audit trail: one organization's events, and verification of its chain."""

from django.db.models import QuerySet

from audit import chain as hash_chain
from audit.models import PLATFORM_CHAIN, AuditChain, AuditCheckpoint, AuditEvent


def audit_events_of(*, org) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(organization=org)


def audit_verify(*, org=None, chain_id: int | None = None) -> hash_chain.VerifyResult:
    """Verify one organization's chain (or the platform chain) from its retained base to its head."""
    chain_id = chain_id if chain_id is not None else (org.pk if org is not None else PLATFORM_CHAIN)
    head = AuditChain.objects.filter(chain=chain_id).first()
    if head is None:
        return hash_chain.VerifyResult(True, 0)
    if head.base_sequence:
        # After a purge the chain starts at its base, which a signed checkpoint must vouch for.
        from audit.retention import checkpoint_verify

        checkpoint = AuditCheckpoint.objects.filter(chain=chain_id, sequence=head.base_sequence).first()
        if checkpoint is None or checkpoint.head_hash != head.base_hash or not checkpoint_verify(checkpoint):
            return hash_chain.VerifyResult(
                False, 0, head.base_sequence, f"no valid signed checkpoint for the purge cut at #{head.base_sequence}"
            )
    rows = (
        AuditEvent.objects.filter(chain=chain_id, sequence__gt=head.base_sequence)
        .order_by("sequence")
        .values(*hash_chain.SEALED_FIELDS, "hash")
        .iterator(chunk_size=5000)
    )
    return hash_chain.verify_rows(
        rows, base_sequence=head.base_sequence, base_hash=head.base_hash, expected_last=head.last_sequence
    )


def audit_verify_organization(*, org) -> dict:
    """Both of an organization's chains: its events, and its API calls (api.request)."""
    from audit.api_requests import api_chain_id

    main = audit_verify(org=org).as_dict()
    api_calls = audit_verify(chain_id=api_chain_id(org.pk)).as_dict()
    return {**main, "status": "ok" if main["status"] == api_calls["status"] == "ok" else "broken",
            "api_calls": api_calls}  # fmt: skip
