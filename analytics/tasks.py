"""Thin Celery tasks: safe to run twice (the fill is incremental, retention idempotent)."""

from celery import shared_task


@shared_task(name="analytics.fill_all")
def fill_all() -> dict:
    from analytics.stats import fill_all as fill
    from analytics.tracking import buffer

    buffer.flush()
    return fill()


@shared_task(name="analytics.retention_run")
def retention_run() -> dict:
    from analytics.services import events_purge, partitions_ensure

    created = partitions_ensure()
    return {"partitions_created": created, "events_dropped": events_purge()}
