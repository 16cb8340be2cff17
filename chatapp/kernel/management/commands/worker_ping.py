import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from chatapp.kernel.models import WorkerHeartbeat
from chatapp.kernel.tasks import worker_heartbeat


class Command(BaseCommand):
    help = "Send the heartbeat task through the broker and wait until a worker has run it."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=30.0, help="Seconds to wait (default 30).")

    def handle(self, *args, timeout, **options):
        sent = timezone.now()
        worker_heartbeat.delay()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            beat = WorkerHeartbeat.objects.filter(last_seen__gte=sent).order_by("-last_seen").first()
            if beat is not None:
                waited = (beat.last_seen - sent).total_seconds()
                self.stdout.write(f"worker {beat.hostname} ran the heartbeat task {waited:.2f}s after it was sent")
                return
            time.sleep(0.2)
        raise CommandError(f"no worker ran the heartbeat task within {timeout:g}s: is a worker running?")
