"""Thin Celery tasks of the chat core: they take ids and call chatapp.chat.retention."""

from celery import shared_task

# A continuation waits a little, so a partial run does not take the worker straight back from other queues.
CONTINUE_AFTER_SECONDS = 60


@shared_task(name="chat.retention_run_all", ignore_result=True)
def retention_run_all():
    """Daily (beat): one task per organization with retention on, so one large organization holds up no other."""
    from chatapp.chat.retention import organizations_with_retention

    for org_id in organizations_with_retention().values_list("pk", flat=True):
        retention_run.delay(org_id)


@shared_task(name="chat.retention_run", ignore_result=True)
def retention_run(org_id: int):
    """Apply one organization's policy. Safe to run twice: what was done is no longer selected."""
    from accounts.models import Organization
    from chatapp.chat import retention
    from chatapp.chat.models import RetentionRun

    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return
    run = retention.retention_run(org=org)
    if run is not None and run.status == RetentionRun.Status.PARTIAL:
        retention_run.apply_async((org_id,), countdown=CONTINUE_AFTER_SECONDS)
