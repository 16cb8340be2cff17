"""Thin Celery tasks: take ids, call a service, safe to run twice."""

from celery import shared_task


@shared_task(name="observability.issue_alert")
def issue_alert(issue_id: int, reason: str) -> dict:
    from analytics.observability.services.alerts import issue_alert_send

    return issue_alert_send(issue_id=issue_id, reason=reason)


@shared_task(name="observability.flush_metrics")
def flush_metrics() -> int:
    """Beat: writes what this worker counted, so an idle worker's counts do not wait for its next task."""
    from analytics.observability.perf import buffer

    return buffer.flush()


@shared_task(name="observability.purge_events")
def purge_events() -> int:
    """Daily: delete stored error events (not issues) and performance rows past their retention."""
    from analytics.observability.services.retention import observability_purge

    return observability_purge()
