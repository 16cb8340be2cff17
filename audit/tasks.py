from celery import shared_task

from audit import retention


@shared_task(name="audit.checkpoints_daily", ignore_result=True)
def checkpoints_daily():
    """Sign every grown chain's head. Safe to run twice: one checkpoint per sequence."""
    retention.checkpoints_daily()


@shared_task(name="audit.retention_purge_all", ignore_result=True)
def retention_purge_all():
    """Delete expired audit events of every organization not under legal hold. Safe to run twice."""
    retention.retention_purge_all()


@shared_task(name="audit.stream_deliver_due", ignore_result=True)
def stream_deliver_due():
    """Every minute (beat): queue one delivery per destination that is due, so a slow receiver holds up no other."""
    from audit.streaming.services import destinations_due

    for destination_id in destinations_due().values_list("pk", flat=True):
        stream_deliver.delay(destination_id)


@shared_task(name="audit.stream_deliver", ignore_result=True)
def stream_deliver(destination_id: int):
    """Send one destination's pending events. Safe to run twice: a lease admits one sender, the cursor the rest."""
    from audit.models import StreamDestination
    from audit.streaming.services import destination_deliver

    destination = StreamDestination.objects.select_related("organization").filter(pk=destination_id).first()
    if destination is not None:
        destination_deliver(destination)
