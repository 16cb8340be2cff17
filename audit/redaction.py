"""Redaction: the one controlled path that rewrites personal data in audit rows (data-subject erasure).

Audit rows are append-only and sealed into a hash chain, but an erased person's e-mail address and name must not
stay in them in clear (GDPR Art. 17). Redaction rewrites only the personal-data columns (labels, changes,
metadata, and address and user agent of the person's own requests) of the events that hold them, inside one
transaction that holds an AuditRedactionPermit (the database refuses any other UPDATE, and any change to the
chain's own columns). Each rewritten event keeps its original hash, so the chain still links and signed
checkpoints still hold, and gets an AuditRedaction seal over its new content bound to that hash; audit_verify
checks it against that seal. An event is redacted only if it verifies first: redaction never blesses a row that
was tampered with. Each run is itself recorded (audit.redacted).
"""

import re
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit import audit_events as events
from audit import chain as hash_chain
from audit.models import ActorType, AuditEvent, AuditRedaction, AuditRedactionPermit
from audit.services import Actor, Target, audit_record

# The columns redaction may rewrite (the database refuses a change to any other).
PERSONAL_COLUMNS = ("actor_label", "target_label", "changes", "metadata", "ip", "user_agent")


class RedactionRefused(Exception):
    """An event to redact does not verify: the trail was altered, and redaction must not hide that."""


def _term_pattern(term: str) -> str:
    # Whole occurrences only: erasing al@acme.test must not rewrite bob.al@acme.test, and erasing a person named
    # "Al" must touch neither "general" nor al.bob@acme.test. A term ends where word and address characters end (a
    # final dot may close a sentence).
    return r"(?<![\w.+@-])" + re.escape(term) + r"(?![\w@-]|\.\w)"


def replacer(terms: dict[str, str]):
    """A function replacing each term (case-insensitively, whole occurrences) in a text by its replacement."""
    # Longest first, so an e-mail address is replaced whole before a name inside it could be.
    wanted = sorted((term for term in terms if term), key=len, reverse=True)
    if not wanted:
        return lambda text: text
    pattern = re.compile("|".join(_term_pattern(term) for term in wanted), re.IGNORECASE)
    lowered = {term.lower(): replacement for term, replacement in terms.items()}
    return lambda text: pattern.sub(lambda match: lowered[match.group(0).lower()], text)


def _rewrite(value: Any, replace) -> Any:
    if isinstance(value, str):
        return replace(value)
    if isinstance(value, dict):
        return {replace(key) if isinstance(key, str) else key: _rewrite(item, replace) for key, item in value.items()}
    if isinstance(value, list):
        return [_rewrite(item, replace) for item in value]
    return value


def _search_forms(term: str) -> set[str]:
    # JSON columns may hold non-ASCII text \\u-escaped (Django's encoder on SQLite): look for that form too.
    import json

    return {term, json.dumps(term)[1:-1]}


def _candidates(*, user_id: int, terms: dict[str, str]):
    who = str(user_id)
    query = Q(actor_type=ActorType.USER, actor_id=who) | Q(target_type="accounts.user", target_id=who)
    for term in terms:
        for form in _search_forms(term) if term else ():
            query |= Q(actor_label__icontains=form) | Q(target_label__icontains=form) | Q(user_agent__icontains=form)
            query |= Q(changes__icontains=form) | Q(metadata__icontains=form)
    return AuditEvent.objects.filter(query).order_by("chain", "sequence")


def _verifies(row: AuditEvent, existing: AuditRedaction | None) -> bool:
    values = {name: getattr(row, name) for name in hash_chain.SEALED_FIELDS}
    if existing is not None:
        key = hash_chain.key_for(existing.key_id)
        return key is not None and hash_chain.seal_redacted(values, row.hash, key) == existing.seal
    key = hash_chain.key_for(row.key_id)
    return key is not None and hash_chain.seal(values, key) == row.hash


def _rows(ids: list[int], size: int = 1000):
    for start in range(0, len(ids), size):
        yield from AuditEvent.objects.filter(pk__in=ids[start : start + size]).order_by("chain", "sequence")


@transaction.atomic
def audit_redact_subject(
    *, user_id: int, terms: dict[str, str], pseudonym: str, reason: str, actor=None, target=None
) -> int:
    """Rewrite the personal data of one person in every audit event that holds it; returns how many changed.

    `terms` maps each clear value (e-mail address, name) to what replaces it wherever it appears; events whose
    actor or target is the person get `pseudonym` as that label, and the person's own requests lose their
    address and user agent. Events keep actor_id/target_id: they now refer to the pseudonymous user.
    """
    replace = replacer(terms)
    who = str(user_id)
    # Ids first, then rows in chunks: the rows are updated as they are read, which an open cursor (SQLite's
    # especially) should not see.
    ids = list(_candidates(user_id=user_id, terms=terms).values_list("pk", flat=True))
    key_id, key = hash_chain.current_key()
    now = timezone.now()
    changed = 0
    # The permit lives inside this transaction only: other transactions never see it, and a failure rolls it back.
    permit = AuditRedactionPermit.objects.create()
    for row in _rows(ids):
        redaction = AuditRedaction.objects.filter(chain=row.chain, sequence=row.sequence).first()
        if not _verifies(row, redaction):
            raise RedactionRefused(f"audit event #{row.sequence} of chain {row.chain} does not verify")
        new = {name: _rewrite(getattr(row, name), replace) for name in PERSONAL_COLUMNS}
        if row.actor_type == ActorType.USER and row.actor_id == who:
            new.update(actor_label=pseudonym, ip=None, user_agent="")
        if row.target_type == "accounts.user" and row.target_id == who:
            new["target_label"] = pseudonym
        if all(new[name] == getattr(row, name) for name in PERSONAL_COLUMNS):
            continue
        AuditEvent.objects.filter(pk=row.pk).update(**new)
        for name, value in new.items():
            setattr(row, name, value)
        values = {name: getattr(row, name) for name in hash_chain.SEALED_FIELDS}
        AuditRedaction.objects.update_or_create(
            chain=row.chain, sequence=row.sequence,
            defaults={"redacted_at": now, "reason": reason[:200], "key_id": key_id,
                      "seal": hash_chain.seal_redacted(values, row.hash, key)},
        )  # fmt: skip
        changed += 1
    permit.delete()
    audit_record(
        org=None, event=events.AUDIT_REDACTED, actor=actor or Actor.system("privacy erasure"),
        target=target or Target("accounts.user", who, pseudonym), metadata={"events": changed, "reason": reason[:200]},
    )  # fmt: skip
    return changed
