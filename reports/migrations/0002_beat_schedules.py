"""The beat entries of reports: due schedules and triggers every minute, expired downloads daily."""

from django.db import migrations

from chatapp.kernel.beat import BEAT_DEPENDENCY, periodic_task


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial"), BEAT_DEPENDENCY]
    operations = [
        periodic_task("Reports: due schedules", "reports.schedules_dispatch", every_seconds=60, queue="reports"),
        periodic_task("Reports: threshold triggers", "reports.triggers_evaluate", every_seconds=60, queue="reports"),
        periodic_task("Reports: expire downloads", "reports.runs_expire", crontab={"minute": "40", "hour": "3"},
                      queue="reports"),
    ]
