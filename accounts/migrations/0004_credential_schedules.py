"""Schedule API key expiry warnings and session clean-up (daily, 07:00 and 03:30 UTC) in django-celery-beat
(editable in the admin)."""
from django.db import migrations

WARN = "Warn owners of expiring API keys"
CLEAN = "Forget ended login sessions"


def schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    at_7, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="7", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    at_3_30, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="3", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.update_or_create(
        name=WARN,
        defaults={"task": "accounts.api_keys_warn_expiring", "crontab": at_7, "interval": None,
                  "description": "E-mails the owner of each API key that expires within API_KEY_EXPIRY_WARNING_DAYS "
                                 "(once per key)."},
    )
    PeriodicTask.objects.update_or_create(
        name=CLEAN,
        defaults={"task": "accounts.sessions_clean", "crontab": at_3_30, "interval": None,
                  "description": "Deletes session records whose Django session has expired or is gone."},
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[WARN, CLEAN]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_api_keys_sessions"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]
