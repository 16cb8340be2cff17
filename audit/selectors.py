"""Reads of the audit trail: one organization's events, and verification of its chain."""

import orjson
from django.db import connection
from django.db.models import CharField, F, Func, QuerySet, TextField
from django.db.models.functions import Cast

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
        .values_list(*_sealed_columns(), "hash")
        .iterator(chunk_size=10_000)  # a server-side cursor on PostgreSQL: a long chain is never all in memory
    )
    if connection.vendor == "postgresql":
        rows = map(_decode_json_text, rows)
    return hash_chain.verify_tuples(
        rows, base_sequence=head.base_sequence, base_hash=head.base_hash, expected_last=head.last_sequence,
        redactions=redactions_of(chain_id=chain_id),
    )  # fmt: skip


def redactions_of(*, chain_id: int) -> dict[int, tuple[str, str]]:
    """{sequence: (key id, seal)} of the chain's redacted events: few (one per erased person's events)."""
    from audit.models import AuditRedaction

    rows = AuditRedaction.objects.filter(chain=chain_id).values_list("sequence", "key_id", "seal")
    return {sequence: (key_id, seal) for sequence, key_id, seal in rows}


# On PostgreSQL, verification reads the two JSON columns as text for orjson (psycopg decodes jsonb with the much
# slower json module) and occurred_at already in its sealed form, so no datetime is built and formatted per row.
_JSON_FIELDS = {"changes", "metadata"}
_JSON_POSITIONS = [i for i, name in enumerate(hash_chain.SEALED_FIELDS) if name in _JSON_FIELDS]
_SEALED_TIME = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"


def _sealed_columns() -> list:
    if connection.vendor != "postgresql":
        return list(hash_chain.SEALED_FIELDS)
    return [
        Func(F(name), template=_SEALED_TIME, output_field=CharField()) if name == "occurred_at"
        else Cast(name, TextField()) if name in _JSON_FIELDS
        else name
        for name in hash_chain.SEALED_FIELDS
    ]  # fmt: skip


def _decode_json_text(row: tuple) -> list:
    row = list(row)
    for position in _JSON_POSITIONS:
        row[position] = orjson.loads(row[position])
    return row


def audit_verify_organization(*, org) -> dict:
    """Both of an organization's chains: its events, and its API calls (api.request)."""
    from audit.api_requests import api_chain_id

    main = audit_verify(org=org).as_dict()
    api_calls = audit_verify(chain_id=api_chain_id(org.pk)).as_dict()
    return {**main, "status": "ok" if main["status"] == api_calls["status"] == "ok" else "broken",
            "api_calls": api_calls}  # fmt: skip


# Which events answer which compliance question (SOC 2 CC6/CC7, ISO 27001 A.8.15, PCI DSS 10.2). An event name
# matches a section when it starts with one of the section's prefixes.
COMPLIANCE_SECTIONS = {
    "permission_changes": ("rbac.", "member."),
    "access_reviews": ("rbac.review.",),
    "policy_changes": ("audit.retention_changed", "org.", "sso."),
    "api_key_lifecycle": ("api_key.",),
    "audit_access": ("audit.",),
    "access_denied": ("access.denied",),
}


def compliance_summary(*, org, since, until) -> dict:
    """What an auditor asks about a period: counts per section and per event, admin actions, failed logins."""
    from django.db.models import Count

    from accounts.models import Membership

    events = AuditEvent.objects.filter(organization=org, occurred_at__gte=since, occurred_at__lt=until)
    by_event = dict(
        events.exclude(event_name="api.request").values_list("event_name").annotate(n=Count("id")).order_by()
    )
    sections = {
        name: {event: n for event, n in sorted(by_event.items()) if event.startswith(prefixes)}
        for name, prefixes in COMPLIANCE_SECTIONS.items()
    }
    admins = Membership.objects.filter(organization=org, role__in=["owner", "admin"]).values_list("user_id", flat=True)
    admin_actions = (
        events.filter(actor_type="user", actor_id__in=[str(pk) for pk in admins])
        .exclude(event_name__in=["api.request", "audit.events_read"])
        .count()
    )
    member_emails = Membership.objects.filter(organization=org).values_list("user__email", flat=True)
    failed_logins = (
        AuditEvent.objects.filter(
            chain=PLATFORM_CHAIN,
            event_name="auth.login_failed",
            occurred_at__gte=since,
            occurred_at__lt=until,
            actor_label__in=list(member_emails),
        )
        .values_list("actor_label")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    return {
        "organization": org.slug,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "events": sum(by_event.values()),
        "api_calls": events.filter(event_name="api.request").count(),
        "admin_actions": admin_actions,
        "failed_logins": {"total": sum(n for _, n in failed_logins), "by_account": dict(failed_logins[:20])},
        "sections": {name: {"total": sum(counts.values()), "events": counts} for name, counts in sections.items()},
    }
