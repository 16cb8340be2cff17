from django.db import migrations

from chatapp.kernel.beat import BEAT_DEPENDENCY, periodic_task


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_initial"), BEAT_DEPENDENCY]

    operations = [
        periodic_task("Analytics: fill rollups", "analytics.fill_all", every_seconds=300),
        periodic_task("Analytics: raw event retention", "analytics.retention_run", crontab={"minute": "40", "hour": "3"}),
    ]
