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
