"""Second factors beyond django-otp's TOTP: hashed recovery codes and WebAuthn security keys/passkeys.

django-otp's own static tokens are stored in clear with 40 bits of entropy (OWASP ASVS 6.5.2 fails), so
recovery codes are a device of our own: 10 codes of 58.9 bits, each kept only as an HMAC-SHA256 digest.
"""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_otp.models import Device, ThrottlingMixin, TimestampMixin

RECOVERY_CODE_COUNT = 10
# 12 characters from 30 unambiguous ones (no 0/O, 1/I/L, U): 58.9 bits, shown as xxxx-xxxx-xxxx.
_RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
RECOVERY_CODE_LENGTH = 12


def new_salt() -> str:
    return secrets.token_hex(16)  # 32 hex characters


def _normalise_code(code: str) -> str:
    return "".join(ch for ch in str(code).upper() if ch.isalnum())


class RecoveryCodeDevice(TimestampMixin, ThrottlingMixin, Device):
    """A user's current set of single-use recovery codes (regenerating replaces the whole set)."""

    salt = models.CharField(max_length=32, default=new_salt, editable=False)

    def get_throttle_factor(self):
        return getattr(settings, "OTP_TOTP_THROTTLE_FACTOR", 1)

    def digest(self, code: str) -> str:
        # Keyed with SECRET_KEY and the device's own salt: a stolen table cannot be brute-forced offline
        # without the server secret, and equal codes of two users never share a digest.
        key = hashlib.sha256(f"{settings.SECRET_KEY}:recovery:{self.salt}".encode()).digest()
        return hmac.new(key, _normalise_code(code).encode(), hashlib.sha256).hexdigest()

    def issue_codes(self) -> list[str]:
        """Make a new set of codes (the old set stops working) and return them: the only time they exist in clear."""
        codes = [
            "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
            for _ in range(RECOVERY_CODE_COUNT)
        ]
        self.codes.all().delete()
        RecoveryCode.objects.bulk_create(RecoveryCode(device=self, digest=self.digest(code)) for code in codes)
        return ["-".join(code[i : i + 4] for i in range(0, RECOVERY_CODE_LENGTH, 4)) for code in codes]

    def verify_token(self, token):
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        digest = self.digest(token)
        # One UPDATE both checks and spends the code: two requests racing with it cannot both succeed.
        used = RecoveryCode.objects.filter(device=self, digest=digest, used_at__isnull=True).update(
            used_at=timezone.now()
        )
        if used:
            self.throttle_reset(commit=False)
            self.set_last_used_timestamp(commit=False)
            self.save()
            return True
        self.throttle_increment(commit=True)
        return False

    @property
    def remaining(self) -> int:
        return self.codes.filter(used_at__isnull=True).count()


class RecoveryCode(models.Model):
    """One recovery code, as its digest; used_at is set when it is spent."""

    device = models.ForeignKey(RecoveryCodeDevice, on_delete=models.CASCADE, related_name="codes")
    digest = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "digest"], name="recovery_code_unique")]

    def __str__(self):
        return f"recovery code {self.pk} ({'used' if self.used_at else 'unused'})"


class WebAuthnDevice(TimestampMixin, Device):
    """A FIDO2 security key or passkey registered as a second factor (verified with the `webauthn` library)."""

    credential_id = models.BinaryField(unique=True)
    public_key = models.BinaryField()
    sign_count = models.PositiveBigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)

    def verify_token(self, token):
        # A WebAuthn assertion is not a typed code: accounts.services.webauthn checks it.
        return False
