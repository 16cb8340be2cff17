"""Schedule the SAML upkeep in django-celery-beat (editable in the admin): IdP metadata refresh daily at 04:15 UTC
(certificate rollovers), IdP certificate expiry warnings daily at 07:10 UTC."""

from django.db import migrations

REFRESH = "Refresh SAML IdP metadata"
WARN = "Warn before SAML IdP certificates expire"


def schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")

    def daily(hour, minute):
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute, hour=hour, day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
        )
        return crontab

    PeriodicTask.objects.update_or_create(
        name=REFRESH,
        defaults={"task": "accounts.saml_metadata_refresh", "crontab": daily("4", "15"), "interval": None,
                  "description": "Re-reads the metadata URL of each enabled SAML identity provider and takes new "
                                 "certificates and endpoints (same entity ID only); failures are audited."},
    )  # fmt: skip
    PeriodicTask.objects.update_or_create(
        name=WARN,
        defaults={"task": "accounts.saml_certificates_warn_expiring", "crontab": daily("7", "10"), "interval": None,
                  "description": "Audits saml.certificate_expiring once per IdP signing certificate that expires "
                                 "within SAML_CERTIFICATE_WARNING_DAYS (30)."},
    )  # fmt: skip


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[REFRESH, WARN]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_privacy_requests"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]
