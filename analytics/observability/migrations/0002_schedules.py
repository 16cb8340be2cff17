from django.db import migrations

from chatapp.kernel.beat import BEAT_DEPENDENCY, periodic_task


class Migration(migrations.Migration):
    dependencies = [("observability", "0001_initial"), BEAT_DEPENDENCY]

    operations = [
        periodic_task("Observability: write worker metrics", "observability.flush_metrics", every_seconds=60),
        periodic_task(
            "Observability: purge old error events and metrics", "observability.purge_events",
            crontab={"minute": "40", "hour": "3"},
        ),
    ]
