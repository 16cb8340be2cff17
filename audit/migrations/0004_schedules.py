"""Schedule the daily checkpoint and the daily retention purge in django-celery-beat (editable in the admin)."""

from django.db import migrations

SCHEDULES = [
    ("Audit: sign checkpoints", "audit.checkpoints_daily", "30", "0"),
    ("Audit: retention purge", "audit.retention_purge_all", "0", "1"),
]


def schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, minute, hour in SCHEDULES:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute, hour=hour, day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
        )
        PeriodicTask.objects.update_or_create(name=name, defaults={"task": task, "crontab": crontab})


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[s[0] for s in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_retention_and_checkpoints"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]
