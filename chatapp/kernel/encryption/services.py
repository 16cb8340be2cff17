"""Writes on encryption state: destroying an organization's data key, and rotating the master key.

Rotation re-encrypts every master-key column of every model (found in the model registry) with the newest key of
FIELD_ENCRYPTION_KEYS, in batches, resumably: each batch commits together with its step's `last_pk`, so a run
that dies (or a second run of the same task) carries on after the last committed batch. Organization data keys
are rewrapped on the way, since OrgDataKey.material is itself such a column; values under an organization's data
key are not touched (that is what envelope encryption buys).

A batch reads the raw envelopes with SQL and writes each new one with a compare-and-swap
(`UPDATE ... WHERE pk = %s AND col = <old envelope>`): a row that the application rewrote meanwhile is left
alone, since the application already wrote it with the newest key.
"""

import time
import uuid
from collections.abc import Callable

from django.apps import apps
from django.db import connection, transaction
from django.utils import timezone

from audit.services import Actor, audit_record
from chatapp.kernel import audit_events as events
from chatapp.kernel.encryption import aead, orgkeys
from chatapp.kernel.encryption.errors import EncryptionError
from chatapp.kernel.encryption.fields import EncryptedTextField
from chatapp.kernel.encryption.keyring import keyring
from chatapp.kernel.encryption.models import KeyRotation, KeyRotationStep, OrgDataKey

BATCH_SIZE = 1000
ROTATION_ACTOR = Actor.system("key rotation")


# --- organization data keys ---------------------------------------------------------------------------------------


@transaction.atomic
def org_data_key_destroy(*, actor, org) -> OrgDataKey:
    """Crypto-shred the organization's per-org encrypted data (org.manage): its data key is erased for good.

    Irreversible. Reads of its per-org fields then raise OrgKeyDestroyed, and no new key is made for it. Running
    it twice is harmless (the second run finds the key destroyed and records nothing).
    """
    from accounts.permissions import ORG_MANAGE
    from rbac.services import require_perm

    require_perm(user=actor, org=org, perm=ORG_MANAGE)
    data_key = OrgDataKey.objects.select_for_update().filter(organization=org).first()
    if data_key is None:  # nothing encrypted yet: leave a tombstone so that nothing will be
        data_key = OrgDataKey.objects.create(organization=org, material=None, destroyed_at=timezone.now())
    elif data_key.destroyed_at is not None:
        return data_key
    else:
        data_key.material = None
        data_key.destroyed_at = timezone.now()
        data_key.save(update_fields=["material", "destroyed_at"])
    key_id = orgkeys.key_id_for(data_key)
    orgkeys.forget(key_id)
    transaction.on_commit(lambda: orgkeys.forget(key_id))
    audit_record(org=org, event=events.ORG_KEY_DESTROYED, actor=actor, target=org)
    return data_key


# --- rotation -----------------------------------------------------------------------------------------------------


def encrypted_models() -> dict[str, tuple[type, list[EncryptedTextField]]]:
    """{model label: (model, its master-key encrypted fields)} of every installed, managed model."""
    found = {}
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField) and not f.per_org]
        if fields:
            found[model._meta.label] = (model, fields)
    return dict(sorted(found.items()))


@transaction.atomic
def rotation_start(*, actor) -> KeyRotation:
    """Begin re-encrypting with the newest key, or return the running rotation to that key (to resume it).

    A running rotation to an older key is marked failed ("superseded"): the new one covers every row again.
    The caller queues `kernel.encryption_rotate` after this commits (or calls `rotation_run`).
    """
    target = keyring().current_id
    running = KeyRotation.objects.select_for_update().filter(status=KeyRotation.Status.RUNNING).first()
    if running is not None:
        if running.target_key_id == target:
            return running
        running.status, running.finished_at = KeyRotation.Status.FAILED, timezone.now()
        running.error = f"superseded by a rotation to {target}"
        running.save(update_fields=["status", "finished_at", "error"])
    rotation = KeyRotation.objects.create(target_key_id=target, started_by=Actor.of(actor).label[:255])
    steps = KeyRotationStep.objects.bulk_create(
        KeyRotationStep(rotation=rotation, model=label, rows_total=model._base_manager.count())
        for label, (model, _) in encrypted_models().items()
    )
    audit_record(
        org=None, event=events.ROTATION_STARTED, actor=actor, target=rotation,
        metadata={"target_key_id": target, "rows": {step.model: step.rows_total for step in steps}},
    )  # fmt: skip
    return rotation


def rotation_run(
    rotation_id: int,
    *,
    batch_size: int = BATCH_SIZE,
    budget_seconds: float | None = None,
    progress: Callable[[KeyRotationStep], None] | None = None,
) -> KeyRotation:
    """Work a rotation to its end, or until `budget_seconds` have passed (it is then still running; run it again
    to go on). Safe to run twice, or alongside another run of it. Call it outside a transaction: each batch
    commits on its own."""
    deadline = time.monotonic() + budget_seconds if budget_seconds is not None else None
    rotation = KeyRotation.objects.get(pk=rotation_id)
    found = encrypted_models()
    for step in rotation.steps.filter(done=False):
        model, fields = found.get(step.model, (None, []))
        try:
            while (step := _rotate_batch(rotation.pk, step.pk, model, fields, batch_size)) and not step.done:
                if progress:
                    progress(step)
                if deadline is not None and time.monotonic() > deadline:
                    return KeyRotation.objects.get(pk=rotation.pk)
        except EncryptionError as exc:
            return _fail(rotation.pk, f"{step.model}: {exc}")
        if step is None:  # no longer running (superseded or failed elsewhere)
            return KeyRotation.objects.get(pk=rotation.pk)
        if progress:
            progress(step)
    return _finish(rotation.pk)


def _rotate_batch(rotation_id, step_id, model, fields, batch_size) -> KeyRotationStep | None:
    with transaction.atomic():
        # The rotation row's lock orders batches against a superseding rotation_start (see the module doc).
        rotation = KeyRotation.objects.select_for_update().get(pk=rotation_id)
        if rotation.status != KeyRotation.Status.RUNNING:
            return None
        step = KeyRotationStep.objects.select_for_update().get(pk=step_id)
        if step.done:
            return step
        if model is None:  # the model was removed since the rotation started
            step.done = True
            step.save(update_fields=["done"])
            return step
        ring = keyring()
        target = ring.cipher(rotation.target_key_id)
        rows = _read_batch(model, fields, step.last_pk, batch_size)
        rewritten = 0
        with connection.cursor() as cursor:
            for index, field in enumerate(fields):
                column = connection.ops.quote_name(field.column)
                changes = []
                for row in rows:
                    pk, envelope, row_uuid = row[0], row[1 + 2 * index], row[2 + 2 * index]
                    if envelope is None or aead.key_id_of(envelope) == rotation.target_key_id:
                        continue
                    aad = field.aad(uuid.UUID(str(row_uuid)))
                    plaintext = aead.open_(ring.cipher(aead.key_id_of(envelope)), envelope, aad)
                    changes.append((aead.seal(target, rotation.target_key_id, plaintext, aad), pk, envelope))
                if changes:
                    _write_batch(cursor, model, column, changes)
                    rewritten += len(changes)
        if rows:
            step.last_pk = str(rows[-1][0])
            step.rows_done += len(rows)
            step.rows_rewritten += rewritten
        step.done = len(rows) < batch_size
        step.save(update_fields=["last_pk", "rows_done", "rows_rewritten", "done"])
        return step


def _write_batch(cursor, model, column: str, changes: list[tuple]) -> None:
    """Each (new envelope, pk, old envelope): set the new one where the old one still stands (compare-and-swap).

    PostgreSQL gets one UPDATE ... FROM (VALUES ...) per batch: one statement instead of a thousand round trips.
    Identifiers come from model metadata, quoted; values are parameters.
    """
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    if connection.vendor == "postgresql":
        values = ", ".join(["(%s, %s, %s)"] * len(changes))
        cursor.execute(
            f"UPDATE {table} AS t SET {column} = v.new FROM (VALUES {values}) AS v(new, pk, old) "  # noqa: S608
            f"WHERE t.{pk} = v.pk AND t.{column} = v.old",
            [value for change in changes for value in change],
        )
    else:
        cursor.executemany(f"UPDATE {table} SET {column} = %s WHERE {pk} = %s AND {column} = %s", changes)  # noqa: S608


def _read_batch(model, fields, last_pk: str, batch_size: int) -> list[tuple]:
    """(pk, envelope, row uuid, envelope, row uuid, ...) of the next rows after last_pk, in pk order."""
    quote, pk = connection.ops.quote_name, model._meta.pk
    columns = [quote(pk.column)]
    for field in fields:
        columns += [quote(field.column), quote(model._meta.get_field(field.row_field).column)]
    where, params = "", []
    if last_pk:
        where, params = f" WHERE {quote(pk.column)} > %s", [pk.to_python(last_pk)]
    # Identifiers from model metadata, quoted; values are parameters.
    table = quote(model._meta.db_table)
    sql = f"SELECT {', '.join(columns)} FROM {table}{where} ORDER BY {quote(pk.column)} LIMIT %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, batch_size])
        return cursor.fetchall()


def _fail(rotation_id: int, error: str) -> KeyRotation:
    KeyRotation.objects.filter(pk=rotation_id, status=KeyRotation.Status.RUNNING).update(
        status=KeyRotation.Status.FAILED, finished_at=timezone.now(), error=error[:300]
    )
    return KeyRotation.objects.get(pk=rotation_id)


@transaction.atomic
def _finish(rotation_id: int) -> KeyRotation:
    rotation = KeyRotation.objects.select_for_update().get(pk=rotation_id)
    if rotation.status != KeyRotation.Status.RUNNING or rotation.steps.filter(done=False).exists():
        return rotation
    rotation.status, rotation.finished_at = KeyRotation.Status.DONE, timezone.now()
    rotation.save(update_fields=["status", "finished_at"])
    audit_record(
        org=None, event=events.ROTATION_FINISHED, actor=ROTATION_ACTOR, target=rotation,
        metadata={
            "target_key_id": rotation.target_key_id,
            "rows_rewritten": {step.model: step.rows_rewritten for step in rotation.steps.all()},
        },
    )  # fmt: skip
    return rotation
