from celery import shared_task
from django.utils import timezone

from chatapp.kernel.models import WorkerHeartbeat

ROTATION_BUDGET_SECONDS = 120


@shared_task(name="kernel.worker_heartbeat", bind=True, ignore_result=True)
def worker_heartbeat(self):
    """Record that this worker is alive. Idempotent: running it twice only moves the timestamp."""
    hostname = self.request.hostname or "eager"
    WorkerHeartbeat.objects.update_or_create(hostname=hostname, defaults={"last_seen": timezone.now()})


@shared_task(name="kernel.encryption_rotate", ignore_result=True)
def encryption_rotate(rotation_id: int):
    """Re-encrypt every encrypted column with the rotation's key. Safe to run twice: it resumes from the last
    committed batch, and rows already under the key are skipped."""
    from chatapp.kernel.encryption.models import KeyRotation
    from chatapp.kernel.encryption.services import rotation_run

    # Stay well inside the task time limit, then hand over to a fresh task: big tables take many runs.
    rotation = rotation_run(rotation_id, budget_seconds=ROTATION_BUDGET_SECONDS)
    if rotation.status == KeyRotation.Status.RUNNING:
        encryption_rotate.delay(rotation_id)
