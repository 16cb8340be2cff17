"""Schedule the revocation of expired grants every minute in django-celery-beat (editable in the admin)."""
from django.db import migrations

TASK_NAME = "Revoke expired role grants"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={"task": "rbac.grants_expire", "interval": every_minute,
                  "description": "Deletes role grants whose expiry has passed and records each in the audit trail "
                                 "(expired grants already give nothing; this keeps the grant lists truthful)."},
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("rbac", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]
