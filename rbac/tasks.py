from celery import shared_task

from rbac.services.grants import grants_expire
from rbac.services.reviews import reviews_close_due, reviews_remind


@shared_task(name="rbac.grants_expire", ignore_result=True)
def grants_expire_task():
    """Delete expired grants (beat runs it every minute). Idempotent: a second run finds nothing to do."""
    return grants_expire()


@shared_task(name="rbac.reviews_remind", ignore_result=True)
def reviews_remind_task():
    """E-mail reviewers of open reviews due soon (beat: daily). A review is reminded at most once a day."""
    return reviews_remind()


@shared_task(name="rbac.reviews_close_due", ignore_result=True)
def reviews_close_due_task():
    """Close open reviews past their due date (beat: every 15 minutes). Safe to run twice."""
    return reviews_close_due()
