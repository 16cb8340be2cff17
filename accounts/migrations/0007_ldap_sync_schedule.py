"""Schedule the LDAP / Active Directory directory sync hourly in django-celery-beat (editable in the admin).

Hourly: a person disabled in the directory loses their sessions and API keys within the hour, while a big
directory is not searched more often than needed (login itself always asks the directory).
"""

from django.db import migrations

NAME = "SSO: sync LDAP directories"


def schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="17", hour="*", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.update_or_create(name=NAME, defaults={"task": "accounts.ldap_sync_all", "crontab": crontab})


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_sso_identity_providers"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]
