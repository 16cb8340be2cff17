"""The hash chain: canonical serialization, HMAC-SHA-256 sealing and verification."""

import hmac
from dataclasses import dataclass

import orjson
from django.conf import settings

GENESIS_HASH = "0" * 64

# The sealed fields, in order. Changing this list breaks every existing chain: add a version instead.
SEALED_FIELDS = (
    "chain", "sequence", "occurred_at", "event_code", "event_name", "category", "actor_type", "actor_id",
    "actor_label", "target_type", "target_id", "target_label", "changes", "outcome", "ip", "user_agent",
    "request_id", "session_ref", "api_key_id", "metadata", "key_id", "prev_hash",
)  # fmt: skip


_CANONICAL = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def canonical(values: dict) -> bytes:
    """One byte string per event, the same on every database: UTF-8 JSON with sorted keys and no whitespace, the
    time as ISO-8601 UTC with microseconds."""
    payload = {name: values[name] for name in SEALED_FIELDS}
    payload["occurred_at"] = iso_time(values["occurred_at"])
    return orjson.dumps(payload, option=_CANONICAL, default=str)


def iso_time(value) -> str:
    """The sealed form of occurred_at (a datetime, or already that string when read back in it)."""
    return value if isinstance(value, str) else value.isoformat(timespec="microseconds")


def current_key() -> tuple[str, bytes]:
    key_id, secret = next(iter(settings.AUDIT_HMAC_KEYS.items()))
    return key_id, secret.encode()


def key_for(key_id: str) -> bytes | None:
    secret = settings.AUDIT_HMAC_KEYS.get(key_id)
    return secret.encode() if secret is not None else None


def seal(values: dict, key: bytes) -> str:
    # hmac.digest is OpenSSL's one-shot HMAC: the same bytes as hmac.new(...).hexdigest(), a third of the time.
    return hmac.digest(key, canonical(values), "sha256").hex()


def _redaction_message(original_hash: str, canonical_bytes: bytes) -> bytes:
    # A distinct prefix, so a redaction seal can never be mistaken for (or replayed as) an event's own seal.
    return b"redacted:" + original_hash.encode() + b":" + canonical_bytes


def seal_redacted(values: dict, original_hash: str, key: bytes) -> str:
    """The seal of an event whose personal data was redacted: its new content bound to its original hash."""
    return hmac.digest(key, _redaction_message(original_hash, canonical(values)), "sha256").hex()


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_broken_sequence: int | None = None
    reason: str = ""
    last_sequence: int = 0

    def as_dict(self) -> dict:
        return {
            "status": "ok" if self.ok else "broken",
            "checked": self.checked,
            "first_broken_sequence": self.first_broken_sequence,
            "reason": self.reason,
            "last_sequence": self.last_sequence,
        }


def verify_rows(
    rows, *, base_sequence: int, base_hash: str, expected_last: int | None, redactions: dict | None = None
) -> VerifyResult:
    """Check rows (dicts with every sealed field and `hash`, in sequence order) from the chain's base on.

    Reports the first sequence number at which the chain breaks: an altered row (its HMAC does not match), a
    missing row (a gap in the numbers), rows out of order (a row's prev_hash is not its predecessor's hash), or
    rows missing at the end (the chain head says more were written). `redactions` maps the sequence of each
    redacted event to (key id, redaction seal); such an event is checked against that seal instead.
    """
    tuples = ((*(row[name] for name in SEALED_FIELDS), row["hash"]) for row in rows)
    return verify_tuples(
        tuples, base_sequence=base_sequence, base_hash=base_hash, expected_last=expected_last, redactions=redactions
    )


_SEQUENCE, _OCCURRED_AT = SEALED_FIELDS.index("sequence"), SEALED_FIELDS.index("occurred_at")
_KEY_ID, _PREV_HASH, _HASH = SEALED_FIELDS.index("key_id"), SEALED_FIELDS.index("prev_hash"), len(SEALED_FIELDS)


def verify_tuples(
    rows, *, base_sequence: int, base_hash: str, expected_last: int | None, redactions: dict | None = None
) -> VerifyResult:
    """verify_rows over tuples (the SEALED_FIELDS values in order, then the hash): the database's fast path.

    A tight loop: no model or dict per row beyond the one orjson serializes, occurred_at may come already as its
    sealed string, and HMAC is OpenSSL's one-shot digest (audit_verify's throughput is in docs/performance.md).
    """
    expected_sequence, previous_hash, checked = base_sequence + 1, base_hash, 0
    keys: dict[str, bytes | None] = {}
    fields, dumps, digest, compare = SEALED_FIELDS, orjson.dumps, hmac.digest, hmac.compare_digest
    for row in rows:
        sequence = row[_SEQUENCE]
        if sequence != expected_sequence:
            return VerifyResult(False, checked, expected_sequence, f"event #{expected_sequence} is missing")
        key_id = row[_KEY_ID]
        key = keys[key_id] if key_id in keys else keys.setdefault(key_id, key_for(key_id))
        if key is None:
            return VerifyResult(False, checked, sequence, f"unknown HMAC key {key_id!r}")
        payload = dict(zip(fields, row[:_HASH], strict=True))
        payload["occurred_at"] = iso_time(row[_OCCURRED_AT])
        message, expected = dumps(payload, option=_CANONICAL, default=str), row[_HASH]
        if redactions and sequence in redactions:
            # Redacted through audit.redaction: the row's own hash still links the chain; its content is vouched
            # for by the redaction seal, made under a key of its own (the current one when it was redacted).
            redaction_key_id, expected = redactions[sequence]
            key = keys.setdefault(redaction_key_id, key_for(redaction_key_id))
            if key is None:
                return VerifyResult(False, checked, sequence, f"unknown HMAC key {redaction_key_id!r}")
            message = _redaction_message(row[_HASH], message)
        if not compare(digest(key, message, "sha256").hex(), expected):
            return VerifyResult(False, checked, sequence, f"event #{sequence} was altered")
        if row[_PREV_HASH] != previous_hash:
            return VerifyResult(False, checked, sequence, f"event #{sequence} does not follow #{sequence - 1}")
        previous_hash, expected_sequence, checked = row[_HASH], sequence + 1, checked + 1
    last = expected_sequence - 1
    if expected_last is not None and last != expected_last:
        return VerifyResult(False, checked, last + 1, f"events #{last + 1} to #{expected_last} are missing", last)
    return VerifyResult(True, checked, last_sequence=last)
