"""Retention: error events after OBSERVABILITY_EVENT_RETENTION_DAYS, hourly metric rows after
OBSERVABILITY_METRICS_RETENTION_DAYS. Issues stay (with their counts) until deleted; deleted in batches."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from analytics.observability.models import EndpointHour, ErrorEvent, ErrorIssueHour, TaskHour

BATCH = 5000


def _delete_in_batches(queryset) -> int:
    deleted = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:BATCH])
        if not ids:
            return deleted
        deleted += queryset.model.objects.filter(pk__in=ids).delete()[0]


def observability_purge(*, now=None) -> int:
    now = now or timezone.now()
    events_before = now - timedelta(days=settings.OBSERVABILITY_EVENT_RETENTION_DAYS)
    metrics_before = now - timedelta(days=settings.OBSERVABILITY_METRICS_RETENTION_DAYS)
    return (
        _delete_in_batches(ErrorEvent.objects.filter(received__lt=events_before))
        + _delete_in_batches(ErrorIssueHour.objects.filter(hour__lt=metrics_before))
        + _delete_in_batches(EndpointHour.objects.filter(hour__lt=metrics_before))
        + _delete_in_batches(TaskHour.objects.filter(hour__lt=metrics_before))
    )
