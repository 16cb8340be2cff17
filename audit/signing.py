"""Ed25519 signatures for audit checkpoints (cryptography's implementation).

AUDIT_SIGNING_KEYS="k2=<base64 32-byte seed>,k1=<older>": the first signs, every one verifies what it signed.
"""

import base64
import json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings


def _private(key_id: str) -> Ed25519PrivateKey | None:
    seed = settings.AUDIT_SIGNING_KEYS.get(key_id)
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed)) if seed else None


def public_keys() -> dict[str, str]:
    """{key_id: hex of the raw 32-byte public key}: what auditors need to check signatures offline."""
    return {
        key_id: _private(key_id).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
        for key_id in settings.AUDIT_SIGNING_KEYS
    }


def checkpoint_payload(*, chain: int, sequence: int, head_hash: str, event_count: int, created_at) -> bytes:
    return json.dumps(
        {
            "chain": chain,
            "sequence": sequence,
            "head_hash": head_hash,
            "event_count": event_count,
            "created_at": created_at.isoformat(timespec="microseconds"),
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def sign(payload: bytes) -> tuple[str, str]:
    key_id = next(iter(settings.AUDIT_SIGNING_KEYS))
    return key_id, _private(key_id).sign(payload).hex()


def verify_signature(payload: bytes, signature_hex: str, public_key_hex: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex)).verify(bytes.fromhex(signature_hex), payload)
    except (InvalidSignature, ValueError):
        return False
    return True
