"""Move the streaming destinations' signing secret behind the encrypted field.

Each row first gets its own random encryption_id (AddField with a callable default would give every existing row
the same value), then the secret is encrypted into `signing_secret` and the clear-text column is dropped.
Reversible: going back decrypts into the old column (needs the key that encrypted it).
"""

import uuid

from django.db import migrations, models

import chatapp.kernel.encryption.fields


def fill_encryption_ids(apps, schema_editor):
    StreamDestination = apps.get_model("audit", "StreamDestination")
    for destination in StreamDestination.objects.only("pk").iterator():
        StreamDestination.objects.filter(pk=destination.pk).update(encryption_id=uuid.uuid4())


def encrypt_secrets(apps, schema_editor):
    StreamDestination = apps.get_model("audit", "StreamDestination")
    for destination in StreamDestination.objects.exclude(plaintext_signing_secret="").iterator():
        destination.signing_secret = destination.plaintext_signing_secret
        destination.save(update_fields=["signing_secret"])


def decrypt_secrets(apps, schema_editor):
    StreamDestination = apps.get_model("audit", "StreamDestination")
    for destination in StreamDestination.objects.filter(signing_secret__isnull=False).iterator():
        StreamDestination.objects.filter(pk=destination.pk).update(plaintext_signing_secret=destination.signing_secret)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0006_stream_schedule"),
        ("kernel", "0003_encryption_keys_and_rotation"),
    ]

    operations = [
        migrations.AddField(
            model_name="streamdestination",
            name="encryption_id",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.RunPython(fill_encryption_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="streamdestination",
            name="encryption_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AddField(
            model_name="streamdestination",
            name="signing_secret",
            field=chatapp.kernel.encryption.fields.EncryptedTextField(
                blank=True,
                help_text="HMAC-SHA256 key of the X-Chatapp-Signature header. Never returned by the API, audited or logged.",
                null=True,
            ),
        ),
        migrations.RunPython(encrypt_secrets, decrypt_secrets),
        migrations.RemoveField(model_name="streamdestination", name="plaintext_signing_secret"),
    ]
