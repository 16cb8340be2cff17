"""Thin Celery tasks of reports, all routed to the `reports` queue (settings: CELERY_TASK_ROUTES), so rendering
never runs in a web process or holds up the default queue. Each takes ids and is safe to run twice."""

from smtplib import SMTPException

from celery import shared_task
from django.conf import settings


@shared_task(name="reports.render_run", ignore_result=True)
def render_run(run_id: int):
    from reports.models import ReportRun
    from reports.services import run_render

    run = ReportRun.objects.select_related("report", "organization", "requested_by").filter(pk=run_id).first()
    if run is not None:
        run_render(run=run)


@shared_task(name="reports.schedules_dispatch", ignore_result=True)
def schedules_dispatch():
    """Every minute (beat): claim the due slots and queue one delivery task per claimed slot."""
    from reports.schedules import schedules_dispatch as dispatch

    dispatch()


@shared_task(name="reports.deliver", ignore_result=True)
def deliver(delivery_id: int):
    """Render a delivery's report once and queue one send per destination."""
    from reports.delivery import delivery_prepare

    for target_id in delivery_prepare(delivery_id=delivery_id):
        send_target.delay(target_id)


@shared_task(name="reports.send_target", bind=True, ignore_result=True, max_retries=None)
def send_target(self, target_id: int):
    """Send to one destination; SMTP errors retry with exponential backoff, then the owner is told."""
    from reports.delivery import target_failed, target_send

    try:
        target_send(target_id=target_id, attempt=self.request.retries + 1)
    except SMTPException as exc:
        if self.request.retries + 1 >= settings.REPORTS_SEND_ATTEMPTS:
            target_failed(target_id=target_id, error=str(exc))
            return
        raise self.retry(exc=exc, countdown=settings.REPORTS_RETRY_BASE_SECONDS * 2**self.request.retries) from None


@shared_task(name="reports.triggers_evaluate", ignore_result=True)
def triggers_evaluate():
    """Every minute (beat): evaluate every active trigger."""
    from reports.triggers import triggers_evaluate as evaluate

    evaluate()


@shared_task(name="reports.runs_expire", ignore_result=True)
def runs_expire():
    from reports.services import runs_expire as expire

    expire()
