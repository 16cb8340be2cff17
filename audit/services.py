"""Recording audit events: the one function every service calls inside its own transaction."""

from dataclasses import dataclass
from typing import Any

import orjson
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
        if isinstance(getattr(actor, "audit_actor", None), Actor):
            return actor.audit_actor  # a service identity acting for a plugin: plugin:<id>@<version>
        if actor is None or not getattr(actor, "is_authenticated", False):
            return cls(ActorType.SYSTEM)
        return cls(ActorType.USER, str(actor.pk), actor.email)

    @classmethod
    def plugin(cls, plugin_id: str, version: str) -> "Actor":
        """A plugin acting through the plugin API, labelled plugin:<id>@<version>."""
        return cls(ActorType.PLUGIN, f"{plugin_id}@{version}", f"plugin:{plugin_id}@{version}")

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


# Every column an insert writes, in one order: the organization, the sealed fields, the hash.
_COLUMNS = ("organization_id", *hash_chain.SEALED_FIELDS, "hash")
_JSON_COLUMNS = frozenset({"changes", "metadata"})
_STORED_JSON = orjson.OPT_NON_STR_KEYS  # what is stored is what canonical() seals (keys aside, which it sorts)
_PG_PLACEHOLDERS = ", ".join(
    "%s::jsonb" if name in _JSON_COLUMNS else "%s::inet" if name == "ip" else "%s" for name in _COLUMNS
)
# Identifiers are our own tables and columns; every value is a query parameter.
_EVENT, _HEAD = AuditEvent._meta.db_table, AuditChain._meta.db_table
_ADVANCE_HEAD = (
    f"UPDATE {_HEAD} SET last_sequence = last_sequence + %s WHERE chain = %s RETURNING last_sequence, last_hash"  # noqa: S608
)
_SET_HEAD_HASH = f"UPDATE {_HEAD} SET last_hash = %s WHERE chain = %s"  # noqa: S608
_INSERT = f"INSERT INTO {_EVENT} ({', '.join(_COLUMNS)}) VALUES ({', '.join(['%s'] * len(_COLUMNS))})"  # noqa: S608
_PG_INSERT = f"INSERT INTO {_EVENT} ({', '.join(_COLUMNS)}) VALUES ({_PG_PLACEHOLDERS}) RETURNING id"  # noqa: S608
_PG_INSERT_SETTING_HEAD = f"WITH head AS ({_SET_HEAD_HASH}) {_PG_INSERT}"
_PG_COPY = f"COPY {_EVENT} ({', '.join(_COLUMNS)}) FROM STDIN"


def _advance_head(chain_id: int, count: int) -> tuple[int, str]:
    """Lock the chain's head and reserve `count` sequence numbers in one statement: (first sequence - 1, last hash).

    The UPDATE takes the row lock that orders the chain's writers until the caller's transaction ends; the head's
    hash is set once the events are sealed, by their insert. The head is created on the chain's first event (a
    concurrent first writer may win that race, hence ON CONFLICT and the retry).
    """
    with connection.cursor() as cursor:
        cursor.execute(_ADVANCE_HEAD, [count, chain_id])
        row = cursor.fetchone()
        if row is None:
            AuditChain.objects.bulk_create(
                [AuditChain(chain=chain_id, last_hash=hash_chain.GENESIS_HASH, base_hash=hash_chain.GENESIS_HASH)],
                ignore_conflicts=True,
            )
            cursor.execute(_ADVANCE_HEAD, [count, chain_id])
            row = cursor.fetchone()
    return row[0] - count, row[1]


def _seal(chain_id: int, batch: list[dict]) -> str:
    """Seal the events onto the chain in order (sequence, prev_hash, key_id, hash set in each dict)."""
    key_id, key = hash_chain.current_key()
    sequence, previous = _advance_head(chain_id, len(batch))
    for values in batch:
        sequence += 1
        values.update(chain=chain_id, sequence=sequence, prev_hash=previous, key_id=key_id)
        values["hash"] = previous = hash_chain.seal(values, key)
    return previous


def _row(org_id: int | None, values: dict, adapt_time) -> list:
    row = [org_id]
    for name in _COLUMNS[1:]:
        value = values[name]
        if name in _JSON_COLUMNS:
            value = orjson.dumps(value, option=_STORED_JSON, default=str).decode()
        elif name == "occurred_at":
            value = adapt_time(value)
        row.append(value)
    return row


def _seal_one(org_id: int | None, chain_id: int, values: dict) -> AuditEvent:
    """Seal and insert one event: two statements on PostgreSQL (head, then the insert with the head's new hash).

    Raw SQL rather than the ORM: bulk_create's machinery cost more than the three statements it ran (measured in
    docs/performance.md), and folding the head's hash into the insert saves one round trip.
    """
    last_hash = _seal(chain_id, [values])
    row = _row(org_id, values, connection.ops.adapt_datetimefield_value)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_PG_INSERT_SETTING_HEAD, [last_hash, chain_id, *row])
            event_id = cursor.fetchone()[0]
        else:
            cursor.execute(_INSERT, row)
            event_id = cursor.lastrowid
            cursor.execute(_SET_HEAD_HASH, [last_hash, chain_id])
    return AuditEvent(id=event_id, organization_id=org_id, **values)


def _seal_and_insert(org, values: dict) -> AuditEvent:
    return _seal_one(org.pk if org is not None else None, values["chain"], values)


def _seal_batch(org_id: int | None, chain_id: int, batch: list[dict]) -> int:
    """Seal events onto one chain in order and insert them, inside the caller's transaction. Returns the count.

    Sealing happens at write time under a row lock on the chain's head: writes to one chain are ordered by the
    lock, other chains are not held up (docs/audit.md, "Why seal at write time"). On PostgreSQL the rows go in
    with COPY (no model instances, no parameter arrays): the bulk path of api.request events and imports.
    """
    last_hash = _seal(chain_id, batch)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor, cursor.cursor.copy(_PG_COPY) as copy:
            for values in batch:
                copy.write_row(_row(org_id, values, _same))
    else:
        AuditEvent.objects.bulk_create([AuditEvent(organization_id=org_id, **values) for values in batch])
    with connection.cursor() as cursor:
        cursor.execute(_SET_HEAD_HASH, [last_hash, chain_id])
    return len(batch)


def _same(value):
    return value


def audit_denied(*, org, actor, method: str, route: str, reason: str) -> AuditEvent:
    """Record a refused attempt. The refused change rolled back, so this writes in a transaction of its own."""
    from audit.audit_events import ACCESS_DENIED

    with transaction.atomic():
        return audit_record(
            org=org, event=ACCESS_DENIED, actor=actor, target=Target("api.route", "", f"{method} {route}"[:255]),
            outcome=Outcome.DENIED, metadata={"reason": reason[:500]},
        )  # fmt: skip
