"""Encryption at rest through its public surfaces: models saved and read, raw SQL, the rotation command, services."""

import base64
import os
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from audit.models import AuditEvent
from chatapp.kernel.encryption import (
    DecryptionFailed,
    EncryptedLookupError,
    EncryptionError,
    KeyUnavailable,
    OrgKeyDestroyed,
    Sealed,
)
from chatapp.kernel.encryption.models import KeyRotation, OrgDataKey
from chatapp.kernel.encryption.services import org_data_key_destroy, rotation_run, rotation_start
from tests.kernel.vault import Vault

pytestmark = pytest.mark.django_db

K1 = base64.b64encode(os.urandom(32)).decode()
K2 = base64.b64encode(os.urandom(32)).decode()
SECRET = "correct horse battery staple"


@pytest.fixture(autouse=True)
def k1(settings):
    settings.FIELD_ENCRYPTION_KEYS = {"k1": K1}


def raw(column, pk, table="kernel_vault"):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def write_raw(column, pk, value, table="kernel_vault"):
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [value, pk])


def vault(org, **values):
    return Vault.objects.create(organization=org, **{"secret": SECRET, "data": {"token": SECRET, "n": 3}, **values})


def test_values_round_trip_and_are_not_stored_in_clear(acme):
    saved = vault(acme.org, private="only acme reads this")
    loaded = Vault.objects.get(pk=saved.pk)
    assert loaded.secret == SECRET
    assert loaded.data == {"token": SECRET, "n": 3}
    assert loaded.private == "only acme reads this"
    for column in ("secret", "data", "private"):
        stored = raw(column, saved.pk)
        assert SECRET not in stored and "only acme" not in stored
        assert stored.startswith("v1:k1:" if column != "private" else "v1:org.")


def test_each_save_uses_a_fresh_nonce(acme):
    first, second = vault(acme.org), vault(acme.org)
    assert raw("secret", first.pk) != raw("secret", second.pk)


def test_null_stays_null_and_empty_text_is_encrypted(acme):
    row = vault(acme.org, secret="", data=None)
    assert raw("data", row.pk) is None
    assert raw("secret", row.pk).startswith("v1:k1:")
    assert Vault.objects.get(pk=row.pk).secret == ""
    assert Vault.objects.filter(data__isnull=True).count() == 1  # isnull is the one lookup allowed


def test_filtering_and_writing_around_save_are_refused(acme):
    row = vault(acme.org)
    with pytest.raises(EncryptedLookupError, match="cannot be filtered"):
        Vault.objects.filter(secret=SECRET).count()
    with pytest.raises(EncryptedLookupError):
        Vault.objects.filter(secret__startswith="c").count()
    # (a failed write marks the transaction for rollback, as any failed save does: hence the savepoints)
    with pytest.raises(EncryptionError, match="write it with save"), transaction.atomic():
        Vault.objects.filter(pk=row.pk).update(secret="around the field")
    row.secret = "bulk"
    with pytest.raises(EncryptionError, match="write it with save"), transaction.atomic():
        Vault.objects.bulk_update([row], ["secret"])
    assert Vault.objects.get(pk=row.pk).secret == SECRET


def test_values_queries_never_return_plaintext(acme):
    vault(acme.org)
    (value,) = Vault.objects.values_list("secret", flat=True)
    assert isinstance(value, Sealed) and SECRET not in repr(value)
    with pytest.raises(EncryptionError, match="through its model instance"):
        str(value)


def test_a_ciphertext_copied_to_another_row_or_column_does_not_decrypt(acme):
    source, other = vault(acme.org), vault(acme.org, secret="other")
    write_raw("secret", other.pk, raw("secret", source.pk))
    with pytest.raises(DecryptionFailed, match="moved from another row"):
        Vault.objects.get(pk=other.pk).secret
    write_raw("label", source.pk, "x")
    write_raw("data", source.pk, raw("secret", source.pk))  # same row, another column
    with pytest.raises(DecryptionFailed):
        Vault.objects.get(pk=source.pk).data


def test_a_per_org_value_copied_to_another_org_does_not_decrypt(acme, globex):
    mine, theirs = vault(acme.org, private="acme"), vault(globex.org, private="globex")
    write_raw("private", theirs.pk, raw("private", mine.pk))
    with pytest.raises(DecryptionFailed):
        Vault.objects.get(pk=theirs.pk).private


def test_a_per_org_value_naming_an_unknown_org_key_fails_closed(acme):
    row = vault(acme.org, private="x")
    for key_id in ("org.0123456789abcdef0123456789abcdef", "org.not-a-uuid"):
        write_raw("private", row.pk, f"v1:{key_id}:" + raw("private", row.pk).split(":", 2)[2])
        with pytest.raises(KeyUnavailable, match="does not exist"):
            Vault.objects.get(pk=row.pk).private


def test_tampered_or_foreign_values_fail_closed(acme):
    row = vault(acme.org)
    stored = raw("secret", row.pk)
    body = bytearray(base64.b64decode(stored.split(":", 2)[2]))
    body[-1] ^= 1
    write_raw("secret", row.pk, "v1:k1:" + base64.b64encode(bytes(body)).decode())
    with pytest.raises(DecryptionFailed):
        Vault.objects.get(pk=row.pk).secret
    write_raw("secret", row.pk, SECRET)  # a plaintext written around the field is not handed out
    with pytest.raises(DecryptionFailed, match="not a chatapp v1 ciphertext") as error:
        Vault.objects.get(pk=row.pk).secret
    assert SECRET not in str(error.value)


def test_a_wrong_or_missing_key_raises(acme, settings):
    row = vault(acme.org)
    settings.FIELD_ENCRYPTION_KEYS = {"k1": K2}  # same id, other key material
    with pytest.raises(DecryptionFailed):
        Vault.objects.get(pk=row.pk).secret
    settings.FIELD_ENCRYPTION_KEYS = {"k2": K2}
    with pytest.raises(KeyUnavailable, match="'k1', which is not in FIELD_ENCRYPTION_KEYS"):
        Vault.objects.get(pk=row.pk).secret
    settings.FIELD_ENCRYPTION_KEYS = {}
    with pytest.raises(KeyUnavailable, match="empty"), transaction.atomic():
        Vault.objects.create(organization=acme.org, secret="x")


def test_older_keys_decrypt_and_the_newest_encrypts(acme, settings):
    old = vault(acme.org)
    settings.FIELD_ENCRYPTION_KEYS = {"k2": K2, "k1": K1}
    assert Vault.objects.get(pk=old.pk).secret == SECRET
    new = vault(acme.org)
    assert raw("secret", new.pk).startswith("v1:k2:")
    old.save()  # any save re-encrypts with the newest key
    assert raw("secret", old.pk).startswith("v1:k2:")


def test_rotation_re_encrypts_every_row_and_the_old_key_can_go(acme, globex, settings):
    rows = [vault(org.org, private=f"p{i}") for i in range(5) for org in (acme, globex)]
    wrapped_before = {key.pk: raw("material", key.pk, "kernel_orgdatakey") for key in OrgDataKey.objects.all()}
    assert len(wrapped_before) == 2
    settings.FIELD_ENCRYPTION_KEYS = {"k2": K2, "k1": K1}
    out = StringIO()
    call_command("rotate_encryption_keys", "--here", "--batch-size", "3", stdout=out)
    assert "kernel.Vault: 3/10 rows" in out.getvalue()  # progress per batch
    rotation = KeyRotation.objects.get()
    assert rotation.status == KeyRotation.Status.DONE
    step = rotation.steps.get(model="kernel.Vault")
    assert (step.rows_done, step.rows_total, step.rows_rewritten) == (10, 10, 20)  # secret and data of each row
    for row in rows:
        assert raw("secret", row.pk).startswith("v1:k2:") and raw("data", row.pk).startswith("v1:k2:")
    for pk, before in wrapped_before.items():  # org data keys rewrapped, their values left alone
        assert raw("material", pk, "kernel_orgdatakey").startswith("v1:k2:") and before.startswith("v1:k1:")

    settings.FIELD_ENCRYPTION_KEYS = {"k2": K2}  # the old key removed
    for row in rows:
        loaded = Vault.objects.get(pk=row.pk)
        assert (loaded.secret, loaded.data["token"], loaded.private) == (SECRET, SECRET, row.private)

    names = list(AuditEvent.objects.filter(event_name__startswith="encryption.").values_list("event_name", flat=True))
    assert sorted(names) == ["encryption.rotation_finished", "encryption.rotation_started"]
    started = AuditEvent.objects.get(event_name="encryption.rotation_started")
    assert started.metadata["target_key_id"] == "k2" and started.metadata["rows"]["kernel.Vault"] == 10
    assert K1 not in str(started.metadata) and K2 not in str(started.metadata)

    status = StringIO()
    call_command("rotate_encryption_keys", "--status", stdout=status)
    assert "to key 'k2': done" in status.getvalue() and "kernel.Vault" in status.getvalue()


def test_rotation_resumes_after_an_interruption_and_is_safe_to_run_twice(acme, settings):
    rows = [vault(acme.org) for _ in range(7)]
    settings.FIELD_ENCRYPTION_KEYS = {"k2": K2, "k1": K1}
    rotation = rotation_start(actor=acme.owner)
    assert rotation_start(actor=acme.owner).pk == rotation.pk  # started twice: the same rotation resumes
    partial = rotation_run(rotation.pk, batch_size=2, budget_seconds=0)  # stops after one batch
    assert partial.status == KeyRotation.Status.RUNNING
    assert sum(raw("secret", row.pk).startswith("v1:k2:") for row in rows) == 2
    assert rotation_run(rotation.pk, batch_size=2).status == KeyRotation.Status.DONE
    assert rotation_run(rotation.pk, batch_size=2).status == KeyRotation.Status.DONE  # the task run again
    assert AuditEvent.objects.filter(event_name="encryption.rotation_finished").count() == 1
    assert rotation.steps.get(model="kernel.Vault").rows_done == 7


def test_rotation_fails_clearly_when_a_value_cannot_be_decrypted(acme, settings):
    row = vault(acme.org)
    write_raw("secret", row.pk, raw("secret", vault(acme.org).pk))  # moved: does not authenticate here
    settings.FIELD_ENCRYPTION_KEYS = {"k2": K2, "k1": K1}
    with pytest.raises(CommandError, match=r"did not finish: kernel\.Vault: a value encrypted with key 'k1'"):
        call_command("rotate_encryption_keys", "--here", stdout=StringIO())
    assert KeyRotation.objects.get().status == KeyRotation.Status.FAILED


def test_crypto_shredding_makes_the_org_values_unreadable(acme, globex):
    mine, theirs = vault(acme.org, private="acme data"), vault(globex.org, private="globex data")
    with pytest.raises(PermissionDenied):
        org_data_key_destroy(actor=acme.member, org=acme.org)
    org_data_key_destroy(actor=acme.owner, org=acme.org)

    loaded = Vault.objects.get(pk=mine.pk)
    with pytest.raises(OrgKeyDestroyed, match="destroyed"):
        loaded.private
    assert loaded.secret == SECRET  # master-key fields are not shredded
    with pytest.raises(OrgKeyDestroyed), transaction.atomic():
        vault(acme.org, private="new data after the shredding")
    assert Vault.objects.get(pk=theirs.pk).private == "globex data"
    assert OrgDataKey.objects.get(organization=acme.org).material is None

    event = AuditEvent.objects.get(event_name="encryption.org_key_destroyed")
    assert event.organization == acme.org and event.actor_label == acme.owner.email
    org_data_key_destroy(actor=acme.owner, org=acme.org)  # twice: nothing more happens
    assert AuditEvent.objects.filter(event_name="encryption.org_key_destroyed").count() == 1


def test_shredding_an_org_with_no_key_yet_refuses_later_writes(acme):
    org_data_key_destroy(actor=acme.owner, org=acme.org)
    with pytest.raises(OrgKeyDestroyed):
        vault(acme.org, private="x")


def test_a_model_without_a_row_binding_fails_the_system_check():
    from django.db import models
    from django.test.utils import isolate_apps

    from chatapp.kernel.encryption import EncryptedTextField

    with isolate_apps("chatapp.kernel"):

        class Unbound(models.Model):  # noqa: DJ008
            token = EncryptedTextField()

            class Meta:
                app_label = "kernel"

        assert [error.id for error in Unbound._meta.get_field("token").check()] == ["kernel.E101"]
