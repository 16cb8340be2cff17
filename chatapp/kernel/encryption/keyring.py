"""The master key ring: FIELD_ENCRYPTION_KEYS="k2=<base64 of 32 bytes>,k1=<older>", newest first.

The first key encrypts; every key decrypts. settings.py parses and validates the variable into an ordered dict
{key id: base64 key}; this module turns it into AES-GCM ciphers once per process and again whenever a test
overrides the setting.
"""

import base64
from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from chatapp.kernel.encryption.errors import KeyUnavailable


@dataclass(frozen=True)
class KeyRing:
    ciphers: dict[str, AESGCM]  # insertion order: newest first

    @property
    def current_id(self) -> str:
        return next(iter(self.ciphers))

    def cipher(self, key_id: str) -> AESGCM:
        try:
            return self.ciphers[key_id]
        except KeyError:
            raise KeyUnavailable(
                f"this value was encrypted with key {key_id!r}, which is not in FIELD_ENCRYPTION_KEYS"
            ) from None


@cache
def keyring() -> KeyRing:
    keys = settings.FIELD_ENCRYPTION_KEYS
    if not keys:
        raise KeyUnavailable("FIELD_ENCRYPTION_KEYS is empty")
    return KeyRing({key_id: AESGCM(base64.b64decode(encoded)) for key_id, encoded in keys.items()})


@receiver(setting_changed)
def _reload(*, setting, **kwargs):
    if setting == "FIELD_ENCRYPTION_KEYS":
        keyring.cache_clear()
