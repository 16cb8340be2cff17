"""Periodic tasks declared in migrations, one way: `periodic_task(...)` gives the RunPython operation.

Schedules live in django-celery-beat's tables so operators can pause or move them in the admin; a migration
creates each one once (update_or_create by name, so re-running is harmless) and removes it on reverse.
Use it in a migration that depends on ("django_celery_beat", "0019_alter_periodictasks_options"):

    operations = [periodic_task("Analytics: fill rollups", "analytics.fill_all", every_seconds=300)]
    operations = [periodic_task("Chat: retention", "chat.retention_run_all", crontab={"minute": "15", "hour": "2"})]
"""

from django.db import migrations

BEAT_DEPENDENCY = ("django_celery_beat", "0019_alter_periodictasks_options")


def periodic_task(
    name: str, task: str, *, crontab: dict | None = None, every_seconds: int | None = None, queue: str | None = None
) -> migrations.RunPython:
    """A migration operation that schedules `task` by a UTC crontab or a fixed interval (exactly one of them)."""
    if (crontab is None) == (every_seconds is None):
        raise ValueError("give exactly one of crontab= or every_seconds=")

    def schedule(apps, schema_editor):
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        defaults = {"task": task, "queue": queue, "crontab": None, "interval": None}
        if crontab is not None:
            fields = {"minute": "*", "hour": "*", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"}
            fields.update(crontab)
            defaults["crontab"], _ = apps.get_model("django_celery_beat", "CrontabSchedule").objects.get_or_create(
                timezone="UTC", **fields
            )
        else:
            defaults["interval"], _ = apps.get_model("django_celery_beat", "IntervalSchedule").objects.get_or_create(
                every=every_seconds, period="seconds"
            )
        PeriodicTask.objects.update_or_create(name=name, defaults=defaults)

    def unschedule(apps, schema_editor):
        apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=name).delete()

    return migrations.RunPython(schedule, unschedule)
