"""Encryption at rest: key ring, AES-256-GCM envelopes, encrypted model fields, organization data keys, rotation.

See docs/data-protection.md for operating it and fields.py for the design.
"""

from chatapp.kernel.encryption.errors import (
    DecryptionFailed,
    EncryptedLookupError,
    EncryptionError,
    KeyUnavailable,
    OrgKeyDestroyed,
)
from chatapp.kernel.encryption.fields import EncryptedJSONField, EncryptedTextField, Sealed

__all__ = [
    "DecryptionFailed",
    "EncryptedJSONField",
    "EncryptedLookupError",
    "EncryptedTextField",
    "EncryptionError",
    "KeyUnavailable",
    "OrgKeyDestroyed",
    "Sealed",
]
