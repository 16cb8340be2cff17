"""Schedule access-review reminders (daily, 08:00 UTC) and closing at the due date (every 15 minutes) in
django-celery-beat (editable in the admin)."""
from django.db import migrations

REMIND = "Remind access reviewers"
CLOSE = "Close access reviews at their due date"


def schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    daily, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="8", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    every_15_minutes, _ = IntervalSchedule.objects.get_or_create(every=15 * 60, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=REMIND,
        defaults={"task": "rbac.reviews_remind", "crontab": daily, "interval": None,
                  "description": "E-mails the reviewers of open access reviews due within a few days "
                                 "(RBAC_REVIEW_REMIND_DAYS) that still have undecided items."},
    )
    PeriodicTask.objects.update_or_create(
        name=CLOSE,
        defaults={"task": "rbac.reviews_close_due", "interval": every_15_minutes, "crontab": None,
                  "description": "Closes open access reviews whose due date has passed, applying each review's "
                                 "default action (keep or revoke) to its undecided items."},
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[REMIND, CLOSE]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("rbac", "0003_access_reviews"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]
