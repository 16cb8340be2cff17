"""Request and task metrics counted in process memory and added to hourly rows in bulk.

A request costs a dictionary update under a lock (no I/O). After a response has gone out (request_finished) or a
Celery task has finished, the process writes what it counted if OBSERVABILITY_FLUSH_SECONDS have passed: one
additive upsert per (scope, source, hour, route) or (hour, task) row, `INSERT ... ON CONFLICT DO UPDATE SET
n = n + excluded.n`, so any number of processes merge their counts without reading them first (PostgreSQL and
SQLite alike). A graceful exit writes what is left; a crash loses at most the last interval of counts. A failed
write is logged and dropped: metrics never break a request.
"""

import atexit
import logging
import threading
import time
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection, transaction

from analytics.observability.histogram import BUCKET_FIELDS, BUCKETS, bucket_of
from analytics.observability.models import EndpointHour, TaskHour

logger = logging.getLogger(__name__)

_ENDPOINT_FIELDS = ("requests", "errors", "db_queries", "duration_ms", *BUCKET_FIELDS)
_TASK_SUMS = ("runs", "failures", "duration_ms", "lag_ms", "lag_samples", *BUCKET_FIELDS)


def _upsert_sql(table: str, keys: tuple[str, ...], sums: tuple[str, ...], maxima: tuple[str, ...] = ()) -> str:
    columns = (*keys, *sums, *maxima)
    updates = [f"{name} = {table}.{name} + excluded.{name}" for name in sums]
    updates += [
        f"{name} = CASE WHEN excluded.{name} > {table}.{name} THEN excluded.{name} ELSE {table}.{name} END"
        for name in maxima
    ]
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "  # noqa: S608
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {', '.join(updates)}"
    )


_ENDPOINT_UPSERT = _upsert_sql(EndpointHour._meta.db_table, ("scope", "source", "hour", "route"), _ENDPOINT_FIELDS)
_TASK_UPSERT = _upsert_sql(TaskHour._meta.db_table, ("hour", "task"), _TASK_SUMS, ("lag_max_ms",))


def _hour(moment: datetime | None) -> int:
    """Hours since the epoch: a cheap dictionary key, turned into a datetime only when written."""
    return int((moment.timestamp() if moment is not None else time.time()) // 3600)


def _hour_start(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, tz=UTC)


class PerfBuffer:
    def __init__(self):
        self._lock = threading.Lock()
        self._endpoints: dict[tuple, list] = {}
        self._tasks: dict[tuple, list] = {}
        self._last_flush = time.monotonic()

    def record_request(
        self, *, route: str, status: int, duration_ms: float, db_queries: int = 0, scope: int = 0,
        source: str = "server", at: datetime | None = None,
    ) -> None:  # fmt: skip
        key = (scope, source, _hour(at), route[:255])
        with self._lock:
            row = self._endpoints.get(key)
            if row is None:
                row = self._endpoints[key] = [0, 0, 0, 0.0] + [0] * BUCKETS
            row[0] += 1
            row[1] += status >= 500
            row[2] += db_queries
            row[3] += duration_ms
            row[4 + bucket_of(duration_ms)] += 1

    def record_task(
        self, *, task: str, duration_ms: float, failed: bool, lag_ms: float | None = None, at: datetime | None = None
    ) -> None:
        key = (_hour(at), task[:200])
        with self._lock:
            row = self._tasks.get(key)
            if row is None:
                row = self._tasks[key] = [0, 0, 0.0, 0.0, 0] + [0] * BUCKETS + [0.0]
            row[0] += 1
            row[1] += bool(failed)
            row[2] += duration_ms
            if lag_ms is not None:
                row[3] += lag_ms
                row[4] += 1
                row[-1] = max(row[-1], lag_ms)
            row[5 + bucket_of(duration_ms)] += 1

    def flush_if_due(self, **signal_kwargs) -> None:
        if not settings.OBSERVABILITY_AUTOFLUSH or not (self._endpoints or self._tasks):
            return
        if time.monotonic() - self._last_flush >= settings.OBSERVABILITY_FLUSH_SECONDS:
            self.flush()

    def clear(self) -> None:
        with self._lock:
            self._endpoints, self._tasks = {}, {}

    def flush(self) -> int:
        """Add everything counted so far to the hourly rows; returns the number of rows written."""
        with self._lock:
            endpoints, tasks = self._endpoints, self._tasks
            self._endpoints, self._tasks = {}, {}
            self._last_flush = time.monotonic()
        if not endpoints and not tasks:
            return 0
        adapt = connection.ops.adapt_datetimefield_value
        endpoint_rows = [
            [scope, source, adapt(_hour_start(hour)), route, *row]
            for (scope, source, hour, route), row in endpoints.items()
        ]
        task_rows = [[adapt(_hour_start(hour)), task, *row] for (hour, task), row in tasks.items()]
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                if endpoint_rows:
                    cursor.executemany(_ENDPOINT_UPSERT, sorted(endpoint_rows, key=lambda r: r[:4]))
                if task_rows:
                    cursor.executemany(_TASK_UPSERT, sorted(task_rows, key=lambda r: r[:2]))
        except Exception:
            logger.exception("performance: could not write %d metric rows", len(endpoint_rows) + len(task_rows))
            return 0
        return len(endpoint_rows) + len(task_rows)


buffer = PerfBuffer()
atexit.register(lambda: buffer.flush() if (buffer._endpoints or buffer._tasks) else None)
