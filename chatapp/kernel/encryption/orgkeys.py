"""Per-organization data keys (envelope encryption): 32 random bytes per organization, stored wrapped by the master
key ring in OrgDataKey.material (itself an encrypted field, so a master-key rotation rewraps them).

Fields declared `per_org=True` encrypt with their organization's data key, named "org.<key's id>" in the envelope.
Destroying that key (`org_data_key_destroy`) crypto-shreds every such value, in backups too once the backups
holding the key have expired.

Unwrapped keys are cached per process by their random id for CACHE_SECONDS, so a list of rows costs one key
query, not one per row. Destruction clears this process's cache at once; other processes stop decrypting within
CACHE_SECONDS (documented in docs/data-protection.md).
"""

import base64
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.exceptions import ValidationError

from chatapp.kernel.encryption.errors import KeyUnavailable, OrgKeyDestroyed

PREFIX = "org."
CACHE_SECONDS = 60.0
_cache: dict[str, tuple[float, AESGCM]] = {}


def is_org_key_id(key_id: str) -> bool:
    return key_id.startswith(PREFIX)


def key_id_for(data_key) -> str:
    return PREFIX + data_key.encryption_id.hex


def _cipher(data_key) -> AESGCM:
    if data_key.destroyed_at is not None or data_key.material is None:
        raise OrgKeyDestroyed(
            f"the data key of organization {data_key.organization_id} was destroyed on "
            f"{data_key.destroyed_at:%Y-%m-%d}: its encrypted data cannot be read or written"
        )
    return AESGCM(base64.b64decode(data_key.material))


def for_writing(org_id: int) -> tuple[str, AESGCM]:
    """The organization's key, made on first use. Always read from the database: a write must not use a key that
    was just destroyed, nor a cached key whose row a rolled-back transaction never committed."""
    from chatapp.kernel.encryption.models import OrgDataKey

    if org_id is None:
        raise KeyUnavailable("a per-organization encrypted field needs the row's organization")
    data_key = OrgDataKey.objects.filter(organization_id=org_id).first()
    if data_key is None:
        data_key = OrgDataKey.objects.get_or_create(organization_id=org_id, defaults={"material": new_material()})[0]
    return key_id_for(data_key), _cipher(data_key)


def for_reading(key_id: str) -> AESGCM:
    from chatapp.kernel.encryption.models import OrgDataKey

    now = time.monotonic()
    cached = _cache.get(key_id)
    if cached and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    try:
        data_key = OrgDataKey.objects.filter(encryption_id=key_id.removeprefix(PREFIX)).first()
    except ValidationError:  # not a UUID: not one of our key ids
        data_key = None
    if data_key is None:
        raise KeyUnavailable(f"organization data key {key_id!r} does not exist")
    cipher = _cipher(data_key)
    _cache[key_id] = (now, cipher)
    return cipher


def forget(key_id: str | None = None) -> None:
    """Drop cached keys (one, or all)."""
    if key_id is None:
        _cache.clear()
    else:
        _cache.pop(key_id, None)


def new_material() -> str:
    import os

    return base64.b64encode(os.urandom(32)).decode()
