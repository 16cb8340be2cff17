"""Re-encrypt every encrypted column with the newest key of FIELD_ENCRYPTION_KEYS (docs/data-protection.md)."""

from django.core.management.base import BaseCommand, CommandError

from audit.services import Actor
from chatapp.kernel.encryption.models import KeyRotation
from chatapp.kernel.encryption.services import BATCH_SIZE, rotation_run, rotation_start


class Command(BaseCommand):
    help = (
        "Start (or resume) re-encrypting every encrypted column with the newest key, as a Celery task; --here runs "
        "it in this process instead, --status shows the progress of the latest rotation."
    )

    def add_arguments(self, parser):
        parser.add_argument("--status", action="store_true", help="Show the latest rotation's progress and exit.")
        parser.add_argument("--here", action="store_true", help="Run in this process rather than on a worker.")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)

    def handle(self, *args, status, here, batch_size, **options):
        if status:
            rotation = KeyRotation.objects.first()
            if rotation is None:
                self.stdout.write("No key rotation has run.")
            else:
                self._show(rotation)
            return
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        rotation = rotation_start(actor=Actor.system("manage.py rotate_encryption_keys"))
        self.stdout.write(f"Rotation #{rotation.pk} to key {rotation.target_key_id!r}.")
        if not here:
            from chatapp.kernel.tasks import encryption_rotate

            encryption_rotate.delay(rotation.pk)
            self.stdout.write("Queued on the workers; follow it with `manage.py rotate_encryption_keys --status`.")
            return
        rotation = rotation_run(
            rotation.pk,
            batch_size=batch_size,
            progress=lambda step: self.stdout.write(f"  {step.model}: {step.rows_done}/{step.rows_total} rows"),
        )
        self._show(rotation)
        if rotation.status != KeyRotation.Status.DONE:
            raise CommandError(f"rotation #{rotation.pk} did not finish: {rotation.error or rotation.status}")

    def _show(self, rotation: KeyRotation):
        self.stdout.write(
            f"Rotation #{rotation.pk} to key {rotation.target_key_id!r}: {rotation.status}"
            f" (started {rotation.started_at:%Y-%m-%d %H:%M:%S} UTC"
            + (f", finished {rotation.finished_at:%Y-%m-%d %H:%M:%S} UTC" if rotation.finished_at else "")
            + ")"
            + (f" - {rotation.error}" if rotation.error else "")
        )
        for step in rotation.steps.all():
            self.stdout.write(
                f"  {step.model:32} {step.rows_done:>10,}/{step.rows_total:<10,} rows scanned, "
                f"{step.rows_rewritten:,} re-encrypted{'' if step.done else ' (in progress)'}"
            )
