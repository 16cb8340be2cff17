from celery import shared_task
from django.utils import timezone

from chatapp.kernel.models import WorkerHeartbeat


@shared_task(name="kernel.worker_heartbeat", bind=True, ignore_result=True)
def worker_heartbeat(self):
    """Record that this worker is alive. Idempotent: running it twice only moves the timestamp."""
    hostname = self.request.hostname or "eager"
    WorkerHeartbeat.objects.update_or_create(hostname=hostname, defaults={"last_seen": timezone.now()})
