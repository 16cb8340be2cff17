from celery import shared_task

from rbac.services.grants import grants_expire


@shared_task(name="rbac.grants_expire", ignore_result=True)
def grants_expire_task():
    """Delete expired grants (beat runs it every minute). Idempotent: a second run finds nothing to do."""
    return grants_expire()
