"""Signal handlers: unhandled exceptions in requests and Celery tasks, Celery timings and queue lag, flushes."""

import logging
import sys
import time

from celery import signals as celery_signals
from django.core.signals import got_request_exception, request_finished

from analytics.observability.perf import buffer

logger = logging.getLogger(__name__)

SENT_AT_HEADER = "observability_sent_at"
_started: dict[str, float] = {}


def _request_exception(sender, request=None, **kwargs):
    from analytics.observability.services.errors import exception_capture

    exc = sys.exc_info()[1]
    if exc is not None:
        exception_capture(exc=exc, request=request)


def _before_publish(sender=None, headers=None, **kwargs):
    if isinstance(headers, dict):
        headers[SENT_AT_HEADER] = time.time()


def _prerun(sender=None, task_id=None, task=None, **kwargs):
    if len(_started) > 10_000:  # runs whose postrun never came (a killed child): do not grow without bound
        _started.clear()
    _started[task_id] = time.perf_counter()


def _sent_at(task) -> float | None:
    request = getattr(task, "request", None)
    value = getattr(request, SENT_AT_HEADER, None)
    if value is None:
        headers = getattr(request, "headers", None) or {}
        value = headers.get(SENT_AT_HEADER) if isinstance(headers, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _postrun(sender=None, task_id=None, task=None, state=None, **kwargs):
    started = _started.pop(task_id, None)
    if started is None or task is None:
        return
    try:
        duration_ms = (time.perf_counter() - started) * 1000
        sent_at = _sent_at(task)
        lag_ms = max(0.0, (time.time() - duration_ms / 1000 - sent_at) * 1000) if sent_at else None
        buffer.record_task(task=task.name, duration_ms=duration_ms, failed=state == "FAILURE", lag_ms=lag_ms)
        buffer.flush_if_due()
    except Exception:
        logger.exception("performance: could not record a task run")


def _task_failure(sender=None, task_id=None, exception=None, **kwargs):
    from analytics.observability.services.errors import exception_capture

    if exception is not None:
        exception_capture(exc=exception, task_name=getattr(sender, "name", "") or "")


def connect() -> None:
    got_request_exception.connect(_request_exception, dispatch_uid="observability.request_exception")
    request_finished.connect(buffer.flush_if_due, dispatch_uid="observability.flush")
    celery_signals.before_task_publish.connect(_before_publish, dispatch_uid="observability.publish", weak=False)
    celery_signals.task_prerun.connect(_prerun, dispatch_uid="observability.prerun", weak=False)
    celery_signals.task_postrun.connect(_postrun, dispatch_uid="observability.postrun", weak=False)
    celery_signals.task_failure.connect(_task_failure, dispatch_uid="observability.failure", weak=False)
