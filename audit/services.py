"""Recording audit events: the one function every service calls inside its own transaction."""

from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from audit import chain as hash_chain
from audit import context
from audit.models import PLATFORM_CHAIN, ActorType, AuditChain, AuditEvent, Outcome
from audit.registry import AuditEventType, events

REDACTED = "[redacted]"
# Keys whose values never reach the audit trail, wherever they appear in `changes` or `metadata`.
SENSITIVE_KEYS = frozenset(
    {"password", "secret", "client_secret", "token", "api_key", "private_key", "bind_password", "key", "otp"}
)


@dataclass(frozen=True)
class Actor:
    type: str
    id: str = ""
    label: str = ""

    @classmethod
    def of(cls, actor) -> "Actor":
        """A User (or AnonymousUser, or None for the system) as an audit actor."""
        if isinstance(actor, Actor):
            return actor
        if actor is None or not getattr(actor, "is_authenticated", False):
            return cls(ActorType.SYSTEM)
        return cls(ActorType.USER, str(actor.pk), actor.email)

    @classmethod
    def system(cls, name: str) -> "Actor":
        """A Celery task or management command, named."""
        return cls(ActorType.SYSTEM, "", name)


@dataclass(frozen=True)
class Target:
    type: str
    id: str = ""
    label: str = ""

    @classmethod
    def of(cls, obj) -> "Target | None":
        if obj is None or isinstance(obj, Target):
            return obj
        return cls(obj._meta.label_lower, str(obj.pk), str(obj)[:255])


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if _is_sensitive(k) else _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return value


def _is_sensitive(key: str) -> bool:
    lowered = str(key).lower()
    return lowered in SENSITIVE_KEYS or lowered.endswith(("_secret", "_password", "_token", "_key"))


def diff(before: dict, after: dict) -> dict:
    """{field: [before, after]} for the fields whose value changed (secrets redacted)."""
    return _redact(
        {
            name: [before.get(name), after.get(name)]
            for name in sorted(set(before) | set(after))
            if before.get(name) != after.get(name)
        }
    )


def snapshot(obj, fields) -> dict:
    """The audit-relevant fields of a model instance, JSON-ready, for `diff`."""
    values = {}
    for name in fields:
        value = getattr(obj, name)
        values[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return values


def audit_record(
    *,
    org,
    event: AuditEventType | str,
    actor=None,
    target=None,
    changes: dict | None = None,
    outcome: str = Outcome.SUCCESS,
    metadata: dict | None = None,
    request_context: context.RequestContext | None = None,
) -> AuditEvent:
    """Record one event and seal it onto its organization's chain, inside the caller's transaction.

    It must run inside the transaction that makes the change, so the event commits or rolls back with it.
    Raises RegistryError for an undeclared event.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record must be called inside the transaction of the change it records")
    event_type = events[event] if isinstance(event, str) else events[event.name]
    who, what = Actor.of(actor), Target.of(target)
    ctx = request_context or context.current()
    values = {
        "chain": org.pk if org is not None else PLATFORM_CHAIN,
        "occurred_at": timezone.now(),
        "event_code": event_type.code,
        "event_name": event_type.name,
        "category": event_type.category,
        "actor_type": who.type,
        "actor_id": who.id,
        "actor_label": who.label[:255],
        "target_type": what.type if what else "",
        "target_id": what.id if what else "",
        "target_label": what.label if what else "",
        "changes": _redact(changes or {}),
        "outcome": outcome,
        "ip": ctx.ip,
        "user_agent": ctx.user_agent,
        "request_id": ctx.request_id,
        "session_ref": ctx.session_ref,
        "api_key_id": ctx.api_key_id,
        "metadata": _redact(metadata or {}),
    }
    return _seal_and_insert(org, values)


def _locked_head(chain_id: int) -> AuditChain:
    """The chain's head row, locked until the caller's transaction ends (created on first use)."""
    head = AuditChain.objects.select_for_update().filter(chain=chain_id).first()
    if head is not None:
        return head
    # First event of this chain: create the head (a concurrent first writer may win the race) and lock it.
    AuditChain.objects.bulk_create(
        [AuditChain(chain=chain_id, last_hash=hash_chain.GENESIS_HASH, base_hash=hash_chain.GENESIS_HASH)],
        ignore_conflicts=True,
    )
    return AuditChain.objects.select_for_update().get(chain=chain_id)


def _seal_and_insert(org, values: dict) -> AuditEvent:
    return _seal_batch(org.pk if org is not None else None, values["chain"], [values])[0]


def _seal_batch(org_id: int | None, chain_id: int, batch: list[dict]) -> list[AuditEvent]:
    """Seal events onto one chain in order and insert them, inside the caller's transaction.

    Sealing happens at write time under a row lock on the chain's head: writes to one chain are ordered by the
    lock, other chains are not held up (docs/audit.md, "Why seal at write time").
    """
    head = _locked_head(chain_id)
    key_id, key = hash_chain.current_key()
    sequence, previous = head.last_sequence, head.last_hash
    rows = []
    for values in batch:
        sequence += 1
        values.update(chain=chain_id, sequence=sequence, prev_hash=previous, key_id=key_id)
        values["hash"] = previous = hash_chain.seal(values, key)
        rows.append(AuditEvent(organization_id=org_id, **values))
    created = AuditEvent.objects.bulk_create(rows)  # one INSERT; ids come back on PostgreSQL and SQLite
    AuditChain.objects.filter(chain=chain_id).update(last_sequence=sequence, last_hash=previous)
    return created


def audit_denied(*, org, actor, method: str, route: str, reason: str) -> AuditEvent:
    """Record a refused attempt. The refused change rolled back, so this writes in a transaction of its own."""
    from audit.audit_events import ACCESS_DENIED

    with transaction.atomic():
        return audit_record(
            org=org, event=ACCESS_DENIED, actor=actor, target=Target("api.route", "", f"{method} {route}"[:255]),
            outcome=Outcome.DENIED, metadata={"reason": reason[:500]},
        )  # fmt: skip
