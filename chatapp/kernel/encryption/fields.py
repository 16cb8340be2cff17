"""Encrypted model fields: AES-256-GCM values bound to their table, column and row.

    class Secretful(models.Model):
        encryption_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
        token = EncryptedTextField(blank=True)
        settings = EncryptedJSONField(default=dict, per_org=True)   # with the organization's data key

Binding to the row. The associated data of every value is "<db table>|<column>|<row's encryption_id>" (plus the
organization id for per-org fields). The primary key cannot serve: with an auto key it is unknown before the
INSERT, and encrypting afterwards would cost a second write and leave a window with no value. So each model
with encrypted fields carries a random UUID column (`row_field`, "encryption_id" by default; a system check
requires it, unique and not editable), set in Python when the instance is made and never changed. A ciphertext
copied into another row, another column or another table does not decrypt; copying the UUID along is refused
by its unique constraint. Renaming the table or the column changes the binding: re-encrypt first.

Reading. The column holds "v1:<key id>:<base64>"; loading a row leaves a `Sealed` placeholder in the instance
and the attribute decrypts on first access (it needs the row's UUID, which `from_db_value` does not get). So
rows whose secret is never read cost no decryption, and `.values()`/`.values_list()` give `Sealed` objects,
never plaintext: read encrypted fields through model instances.

Writing. `save()` encrypts in `pre_save` with the newest key (or the organization's data key); the instance
keeps its plaintext. Anything that would write around `pre_save` (`QuerySet.update()`, `bulk_update()`) is
refused, as are lookups and filters: randomised ciphertexts cannot be compared in SQL.
"""

import json

from django.core import checks
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.query_utils import DeferredAttribute

from chatapp.kernel.encryption import aead, orgkeys
from chatapp.kernel.encryption.errors import DecryptionFailed, EncryptedLookupError, EncryptionError
from chatapp.kernel.encryption.keyring import keyring


class Sealed:
    """A stored envelope not yet decrypted. Never a str, so it cannot pass for plaintext."""

    __slots__ = ("envelope",)

    def __init__(self, envelope: str):
        self.envelope = envelope

    def __repr__(self):
        return "<encrypted value>"

    def __str__(self):
        raise EncryptionError("an encrypted value is read through its model instance, not .values()/.values_list()")

    def __eq__(self, other):
        return isinstance(other, Sealed) and other.envelope == self.envelope

    __hash__ = None


class _Ciphertext(str):
    """What pre_save hands to the database layer: the only value get_prep_value lets through."""


class EncryptedAttribute(DeferredAttribute):
    """Decrypts a loaded value on first access. A data descriptor (it has __set__), unlike DeferredAttribute, so
    that reads go through it even when the value sits in the instance's __dict__."""

    def __set__(self, instance, value):
        instance.__dict__[self.field.attname] = value

    def __get__(self, instance, cls=None):
        value = super().__get__(instance, cls)
        if instance is not None and isinstance(value, Sealed):
            value = self.field.decrypt(instance, value.envelope)
            instance.__dict__[self.field.attname] = value
        return value


class EncryptedTextField(models.TextField):
    """A text value encrypted at rest (see the module docstring). `per_org=True` uses the organization's data
    key (envelope encryption, crypto-shredding) instead of the master key ring."""

    descriptor_class = EncryptedAttribute
    description = "Text encrypted with AES-256-GCM"

    def __init__(self, *args, row_field: str = "encryption_id", per_org: bool = False, **kwargs):
        self.row_field = row_field
        self.per_org = per_org
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if self.row_field != "encryption_id":
            kwargs["row_field"] = self.row_field
        if self.per_org:
            kwargs["per_org"] = True
        return name, path, args, kwargs

    def check(self, **kwargs):
        errors = super().check(**kwargs)
        opts = self.model._meta
        try:
            row = opts.get_field(self.row_field)
        except Exception:
            row = None
        if not isinstance(row, models.UUIDField) or not row.unique or row.editable:
            errors.append(
                checks.Error(
                    f"{opts.label}.{self.name} needs a row binding field {self.row_field!r}: "
                    "models.UUIDField(default=uuid.uuid4, unique=True, editable=False)",
                    obj=self,
                    id="kernel.E101",
                )
            )
        if self.per_org and not any(f.name == "organization" for f in opts.concrete_fields):
            errors.append(checks.Error(f"{opts.label}.{self.name}: per_org needs an organization FK", obj=self,
                                       id="kernel.E102"))  # fmt: skip
        return errors

    # --- the binding ------------------------------------------------------------------------------------

    def aad(self, row_uuid, org_id=None) -> bytes:
        if row_uuid is None:
            raise EncryptionError(f"{self.model._meta.label}.{self.row_field} is empty: it binds {self.name}")
        aad = f"{self.model._meta.db_table}|{self.column}|{row_uuid}"
        return (aad + f"|org={org_id}" if self.per_org else aad).encode()

    def _aad_of(self, instance) -> bytes:
        # organization_id only when it binds: reading it on a row loaded with .only() would cost a query.
        return self.aad(getattr(instance, self.row_field), instance.organization_id if self.per_org else None)

    # --- values ------------------------------------------------------------------------------------------

    def to_bytes(self, value) -> bytes:
        return str(value).encode()

    def from_bytes(self, data: bytes):
        return data.decode()

    def encrypt(self, instance, value) -> str:
        if self.per_org:
            key_id, cipher = orgkeys.for_writing(instance.organization_id)
        else:
            ring = keyring()
            key_id, cipher = ring.current_id, ring.ciphers[ring.current_id]
        return aead.seal(cipher, key_id, self.to_bytes(value), self._aad_of(instance))

    def decrypt(self, instance, envelope: str):
        parts = aead.split(envelope)
        key_id = parts[1]
        if orgkeys.is_org_key_id(key_id) != self.per_org:
            raise DecryptionFailed(f"{self.model._meta.label}.{self.name} holds a value of the wrong key kind")
        cipher = orgkeys.for_reading(key_id) if self.per_org else keyring().cipher(key_id)
        return self.from_bytes(aead.open_(cipher, parts, self._aad_of(instance)))

    # --- Django hooks ------------------------------------------------------------------------------------

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.attname)  # a value not yet read decrypts here, or fails closed
        return None if value is None else _Ciphertext(self.encrypt(model_instance, value))

    def from_db_value(self, value, expression, connection):
        return None if value is None else Sealed(value)

    def to_python(self, value):
        return value if value is None or isinstance(value, Sealed) else super().to_python(value)

    def get_prep_value(self, value):
        if value is None or isinstance(value, _Ciphertext):
            return value
        raise EncryptionError(
            f"{self.model._meta.label}.{self.name} is encrypted: write it with save() (not update() or "
            "bulk_update()), and do not filter on it"
        )

    def get_lookup(self, lookup_name):
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        raise EncryptedLookupError(
            f"{self.model._meta.label}.{self.name} is encrypted and cannot be filtered with __{lookup_name}"
        )

    def get_transform(self, lookup_name):
        raise EncryptedLookupError(f"{self.model._meta.label}.{self.name} is encrypted and has no transforms")

    def value_to_string(self, obj):
        # dumpdata writes the ciphertext, never the plaintext (fixtures hold no secrets).
        value = obj.__dict__.get(self.attname)
        if value is None or isinstance(value, Sealed):
            return value.envelope if value is not None else None
        raise EncryptionError(f"{self.model._meta.label}.{self.name} has an unsaved plaintext; save before dumping")


class EncryptedJSONField(EncryptedTextField):
    """Any JSON-serialisable value, encrypted as its JSON text (dates and decimals via DjangoJSONEncoder)."""

    description = "JSON encrypted with AES-256-GCM"

    def to_bytes(self, value) -> bytes:
        return json.dumps(value, cls=DjangoJSONEncoder, separators=(",", ":")).encode()

    def from_bytes(self, data: bytes):
        return json.loads(data)

    def to_python(self, value):
        return value

    def formfield(self, **kwargs):
        from django import forms

        return super().formfield(**{"form_class": forms.JSONField, **kwargs})
