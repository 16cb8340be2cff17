"""What encrypted fields raise. Every failure is an exception: ciphertext is never handed out as plaintext."""


class EncryptionError(Exception):
    """Base class: a value could not be encrypted or decrypted."""


class KeyUnavailable(EncryptionError):
    """The value names a key that this process does not hold (removed from FIELD_ENCRYPTION_KEYS too early?)."""


class DecryptionFailed(EncryptionError):
    """The ciphertext does not authenticate: a wrong key, a tampered value, or a value moved to another row."""


class OrgKeyDestroyed(EncryptionError):
    """The organization's data key was destroyed (crypto-shredded): its encrypted values are gone for good."""


class EncryptedLookupError(EncryptionError):
    """Encrypted values cannot be compared in SQL (each encryption is randomised)."""
