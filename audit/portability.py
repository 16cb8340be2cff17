"""The audit trail in organization archives: optional, and imported beside the target's chain, never into it.

The target organization's chain is sealed with the target's audit key; appending the source's events would mean
re-hashing them (so they would no longer match what the source's checkpoints signed) or breaking the chain. They
are stored as accounts.ImportedAuditEvent rows instead, verbatim with their original sequence and hashes.
"""

from accounts.services.portability.registry import exportable
from audit.models import AuditEvent

EXPORTED = (
    "sequence", "occurred_at", "event_code", "event_name", "category", "actor_type", "actor_id", "actor_label",
    "target_type", "target_id", "target_label", "changes", "outcome", "ip", "user_agent", "request_id",
    "api_key_id", "metadata", "key_id", "prev_hash", "hash",
)  # fmt: skip


def _imported_as_history(context, rows) -> None:
    from accounts.models import ImportedAuditEvent

    batch = [
        ImportedAuditEvent(
            organization=context.org,
            imported=context.job,
            source_sequence=row["sequence"],
            occurred_at=row["occurred_at"],
            event_name=row["event_name"],
            record=row,
        )
        for row in rows
    ]
    ImportedAuditEvent.objects.bulk_create(batch)
    context.count("audit.auditevent", len(batch))


exportable(
    "audit.AuditEvent",
    fields=EXPORTED,
    rows=lambda org: AuditEvent.objects.filter(chain=org.pk),
    optional=True,
    importer=_imported_as_history,
    allowed_in_target=True,  # the target's own chain (its creation, this import) is not "data"
    description="The organization's audit events (optional), imported as a separate historical record.",
)
