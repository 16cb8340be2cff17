"""Schedule the integrations' periodic work in django-celery-beat (editable in the admin)."""

from django.db import migrations

from chatapp.kernel.beat import BEAT_DEPENDENCY, periodic_task


class Migration(migrations.Migration):
    dependencies = [("integrations", "0001_initial"), BEAT_DEPENDENCY]
    operations = [
        periodic_task("Integrations: webhook events from the audit trail", "integrations.events_pump", every_seconds=10),
        periodic_task("Integrations: webhook retries due", "integrations.deliveries_due", every_seconds=15),
        periodic_task(
            "Integrations: disable failing webhooks", "integrations.disable_failing", crontab={"minute": "40", "hour": "3"}
        ),
    ]
