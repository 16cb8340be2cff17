from django.core.management.base import BaseCommand

from analytics.stats import fill_all
from analytics.tracking import buffer


class Command(BaseCommand):
    help = "Fill every analytics stat up to now (what the Celery beat task does every five minutes)."

    def handle(self, *args, **options):
        buffer.flush()
        for key, count in fill_all(progress=None).items():
            self.stdout.write(f"{key}: {count} bucket(s) written")
