"""Read replica routing: reads go to the streaming replica only where a selector opts in with `replica_reads()`.

The one seam for analytics and reports::

    from chatapp.kernel.db_router import replica_reads

    @replica_reads()                      # or: with replica_reads(): ...
    def message_volume(*, org, since): ...

Inside `replica_reads()` the ORM's reads use the "replica" database (DATABASE_REPLICA_URL), except:

- when this request (or Celery task) has already written: replica reads lag behind the primary even on one
  machine (PITFALLS.md: a read right after a commit missed 878 of 1000 times), so after the first write every
  read for the rest of the request goes to the primary ("pinning"). Middleware and a Celery signal reset the pin.
- when the replica is down, or its replay lags more than DATABASE_REPLICA_MAX_LAG_SECONDS: reads fall back to
  the primary. The replica's state is probed at most every DATABASE_REPLICA_CHECK_SECONDS per process.

Writes always go to the primary; migrations run only there. Without DATABASE_REPLICA_URL everything uses the
primary and `replica_reads()` changes nothing, so code can opt in before a replica exists.
"""

import functools
import logging
import threading
import time
from contextlib import ContextDecorator
from contextvars import ContextVar

from django.conf import settings
from django.db import DatabaseError, connections
from prometheus_client import Counter

REPLICA = "replica"
log = logging.getLogger(__name__)

_replica_wanted: ContextVar[bool] = ContextVar("replica_wanted", default=False)
_pinned_to_primary: ContextVar[bool] = ContextVar("pinned_to_primary", default=False)

replica_reads_total = Counter(
    "chatapp_db_replica_routing_total",
    "Reads that asked for the replica, by where they went and why.",
    ["target", "reason"],
)


class replica_reads(ContextDecorator):  # lower case: used like a function, `with replica_reads():`
    """Let the reads inside go to the replica (see the module's docstring for when they still do not)."""

    def __enter__(self):
        self._token = _replica_wanted.set(True)
        return self

    def __exit__(self, *exc):
        _replica_wanted.reset(self._token)
        return False


def new_unit_of_work():
    """Forget that the previous request or task wrote: called at the start of each one."""
    _pinned_to_primary.set(False)


def pinned_to_primary() -> bool:
    return _pinned_to_primary.get()


class _ReplicaHealth:
    """The replica's usability, probed at most every DATABASE_REPLICA_CHECK_SECONDS (per process)."""

    # Lag in seconds: 0 when replay has caught up with everything received while streaming; otherwise the age
    # of the last replayed transaction (a disconnected replica's data only gets older).
    LAG_SQL = """
        SELECT CASE
          WHEN NOT pg_is_in_recovery() THEN 0
          WHEN EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')
               AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
          ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 1e9)
        END
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._state = (False, "unchecked")

    def reset(self):
        with self._lock:
            self._checked_at = float("-inf")

    def usable(self):
        """(usable, reason): reason is "ok", "down" or "lagging"."""
        now = time.monotonic()
        with self._lock:
            if now - self._checked_at < settings.DATABASE_REPLICA_CHECK_SECONDS:
                return self._state
            self._checked_at = now
            self._state = self._probe()
            return self._state

    def _probe(self):
        connection = connections[REPLICA]
        try:
            with connection.cursor() as cursor:
                cursor.execute(self.LAG_SQL)
                lag = float(cursor.fetchone()[0])
        except DatabaseError as exc:
            log.warning("read replica unreachable, reading from the primary: %s", type(exc).__name__)
            connection.close()  # a broken connection must not be reused
            return (False, "down")
        if lag > settings.DATABASE_REPLICA_MAX_LAG_SECONDS:
            log.warning("read replica %.1fs behind, reading from the primary", lag)
            return (False, "lagging")
        return (True, "ok")


replica_health = _ReplicaHealth()


class ReplicaRouter:
    """DATABASE_ROUTERS entry: see the module's docstring."""

    def db_for_read(self, model, **hints):
        if not _replica_wanted.get() or REPLICA not in settings.DATABASES:
            return None
        if _pinned_to_primary.get():
            replica_reads_total.labels(target="primary", reason="wrote_in_request").inc()
            return "default"
        usable, reason = replica_health.usable()
        replica_reads_total.labels(target=REPLICA if usable else "primary", reason=reason).inc()
        return REPLICA if usable else "default"

    def db_for_write(self, model, **hints):
        _pinned_to_primary.set(True)
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database, two copies

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db != REPLICA


class PrimaryPinningMiddleware:
    """First in MIDDLEWARE: every request starts unpinned, so only its own writes pin it to the primary."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _pinned_to_primary.set(False)
        try:
            return self.get_response(request)
        finally:
            _pinned_to_primary.reset(token)


def _celery_task_starts(**kwargs):
    new_unit_of_work()


@functools.cache
def connect_celery_signal():
    from celery.signals import task_prerun

    task_prerun.connect(_celery_task_starts, weak=False)


connect_celery_signal()
