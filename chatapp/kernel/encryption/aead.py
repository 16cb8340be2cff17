"""AES-256-GCM with a self-describing text envelope: "v1:<key id>:<base64 of 12-byte nonce + ciphertext + tag>".

The version says how to read the rest; the key id says which key to use, so old and new keys coexist during a
rotation. The associated data (never stored, rebuilt from where the value lives) binds it to one place: the
same ciphertext read from another row, column or table fails to authenticate.
"""

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chatapp.kernel.encryption.errors import DecryptionFailed

VERSION = "v1"
NONCE_BYTES = 12  # random per value; 2^32 encryptions per key keep the collision risk negligible


def seal(cipher: AESGCM, key_id: str, plaintext: bytes, aad: bytes) -> str:
    nonce = os.urandom(NONCE_BYTES)
    body = nonce + cipher.encrypt(nonce, plaintext, _associated(VERSION, key_id, aad))
    return f"{VERSION}:{key_id}:{base64.b64encode(body).decode()}"


def key_id_of(envelope: str) -> str:
    """The key id an envelope names; DecryptionFailed when it is not one of ours."""
    return split(envelope)[1]


def open_(cipher: AESGCM, envelope: str | tuple[str, str, str], aad: bytes) -> bytes:
    """Decrypt an envelope (or its `split()` parts, to parse it once) bound to `aad`."""
    version, key_id, encoded = split(envelope) if isinstance(envelope, str) else envelope
    try:
        body = base64.b64decode(encoded, validate=True)
        return cipher.decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], _associated(version, key_id, aad))
    except (InvalidTag, ValueError):
        raise DecryptionFailed(
            f"a value encrypted with key {key_id!r} does not authenticate: wrong key, tampered, or moved from "
            "another row or column"
        ) from None


def _associated(version: str, key_id: str, aad: bytes) -> bytes:
    # The envelope's header is authenticated too: editing the version or key id breaks the tag.
    return f"{version}|{key_id}|".encode() + aad


def split(envelope) -> tuple[str, str, str]:
    parts = envelope.split(":", 2) if isinstance(envelope, str) else []
    if len(parts) != 3 or parts[0] != VERSION:
        # Never echo the value: it may be a plaintext secret written around the field.
        raise DecryptionFailed("the stored value is not a chatapp v1 ciphertext envelope")
    return parts[0], parts[1], parts[2]
