"""Storing error events: scrub, fingerprint, group into an issue, count, and schedule alerts.

One path for every source: chatapp's own unhandled exceptions (requests and Celery tasks, `exception_capture`)
and events that client SDKs send through the Sentry protocol (`event_store` from the ingest view). An event is
scrubbed first, so the fingerprint, the title and everything stored derive from the scrubbed copy only.
"""

import linecache
import logging
import re
import traceback
import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from analytics.observability import audit_events as events
from analytics.observability import grouping
from analytics.observability.models import (
    ErrorEvent,
    ErrorIssue,
    ErrorIssueHour,
    ErrorIssueUser,
    ErrorProject,
    IssueStatus,
)
from analytics.observability.scrubbing import scrub, scrub_event, user_hash
from audit.services import Actor, Target, audit_record

logger = logging.getLogger(__name__)

SYSTEM = Actor.system("error tracking")
LEVELS = {"fatal", "error", "warning", "info", "debug"}
_EVENT_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_FRAMES = 100
MAX_VAR_REPR = 200


class Duplicate(Exception):
    """The event id was stored before: an SDK retry."""


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _event_id(value) -> str:
    text = str(value or "").replace("-", "").lower()
    return text if _EVENT_ID.match(text) else uuid.uuid4().hex


def _user_id(user) -> str:
    if not isinstance(user, dict):
        return ""
    for key in ("id", "email", "username", "ip_address"):
        if user.get(key) not in (None, ""):
            return f"{key}:{user[key]}"
    return ""


def _text(value, length: int) -> str:
    return value[:length] if isinstance(value, str) else ""


def event_store(*, project: ErrorProject | None, event: dict, now: datetime | None = None) -> int:
    """Store one event (scrubbed) under its issue and return the issue's id; raises Duplicate for an event id
    already stored (the unique constraint decides, so concurrent retries cannot both count).

    `project` None means chatapp's own server errors (the operator's). Alerts for a new issue, a regression or a
    spike are sent after the commit by a Celery task. The common case (a known issue) costs four statements in
    one transaction: the issue's counters (UPDATE ... RETURNING, which also locks it), the event, the user, the
    hour.
    """
    now = now or timezone.now()
    scope = f"p{project.pk}" if project is not None else "server"
    event_id = _event_id(event.get("event_id"))
    who = user_hash(scope=scope, user_id=_user_id(event.get("user")))
    clean = scrub_event(event)
    clean["event_id"] = event_id
    fingerprint = grouping.fingerprint(clean)
    title, kind, culprit = grouping.title_of(clean)
    level = clean.get("level") if clean.get("level") in LEVELS else "error"
    release, environment = _text(clean.get("release"), 200), _text(clean.get("environment"), 64)
    org_id = project.organization_id if project is not None else None
    try:
        with transaction.atomic():
            seen = _count_seen(project, fingerprint, now, level, title, release, environment)
            created = seen is None
            if created:
                issue_id, status, last_spike = _create_issue(
                    project, org_id, fingerprint, title, kind, culprit, level, now, release, environment, bool(who)
                )
                created = status is None
            else:
                issue_id, status, last_spike = seen
            ErrorEvent.objects.create(
                issue_id=issue_id, organization_id=org_id, project=project, event_id=event_id, received=now,
                release=release, environment=environment, user_hash=who, data=clean,
            )  # fmt: skip
            if who and _insert_new_user(issue_id, who) and not created:
                ErrorIssue.objects.filter(pk=issue_id).update(users_affected=F("users_affected") + 1)
            regressed = status == IssueStatus.RESOLVED
            if regressed:
                ErrorIssue.objects.filter(pk=issue_id).update(status=IssueStatus.REGRESSED, resolved_at=None)
                audit_record(
                    org=project.organization if project is not None else None, event=events.ERROR_ISSUE_REGRESSED,
                    actor=SYSTEM, target=Target("observability.errorissue", str(issue_id), title),
                    metadata={"release": release},
                )  # fmt: skip
            in_hour = _count_hour(issue_id, org_id, hour_of(now))
            if created:
                reason = "new"
            elif regressed:
                reason = "regressed"
            elif status == IssueStatus.IGNORED:  # still counted, never alerted
                reason = ""
            else:
                reason = _spike(issue_id, last_spike, in_hour, now)
            if reason:
                _schedule_alert(issue_id, reason)
    except IntegrityError as exc:
        # The event id was stored before (an SDK retry) or by a concurrent request: nothing of this one is kept.
        raise Duplicate(event_id) from exc
    return issue_id


_ISSUE_TABLE = ErrorIssue._meta.db_table
_COUNT_SEEN = (
    f"UPDATE {_ISSUE_TABLE} SET times_seen = times_seen + 1, last_seen = %s, level = %s, title = %s, "  # noqa: S608
    "last_release = CASE WHEN %s = '' THEN last_release ELSE %s END, "
    "environment = CASE WHEN %s = '' THEN environment ELSE %s END "
    "WHERE {project} AND fingerprint = %s RETURNING id, status, last_spike_alert_at"
)


def _count_seen(project, fingerprint, now, level, title, release, environment):
    """Count one more event on the issue, if it exists: (id, status before, last spike alert) or None."""
    where = "project_id = %s" if project is not None else "project_id IS NULL"
    params = [connection.ops.adapt_datetimefield_value(now), level, title, release, release, environment,
              environment, *([project.pk] if project is not None else []), fingerprint]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_COUNT_SEEN.replace("{project}", where), params)
        row = cursor.fetchone()
    if row is None:
        return None
    last_spike = row[2]
    if isinstance(last_spike, str):  # SQLite returns the stored text
        last_spike = datetime.fromisoformat(last_spike)
    if last_spike is not None and last_spike.tzinfo is None:
        last_spike = last_spike.replace(tzinfo=UTC)
    return row[0], row[1], last_spike


def _create_issue(project, org_id, fingerprint, title, kind, culprit, level, now, release, environment, has_user):
    """(id, None, None) for a new issue; when a concurrent event created it first, count on that one instead."""
    try:
        with transaction.atomic():
            issue = ErrorIssue.objects.create(
                organization_id=org_id, project=project, fingerprint=fingerprint, title=title, exception_type=kind,
                culprit=culprit, level=level, first_seen=now, last_seen=now, times_seen=1,
                users_affected=1 if has_user else 0, last_release=release, environment=environment,
            )  # fmt: skip
            return issue.pk, None, None
    except IntegrityError:
        found = _count_seen(project, fingerprint, now, level, title, release, environment)
        if found is None:
            raise
        return found


_USER_TABLE = ErrorIssueUser._meta.db_table
_HOUR_TABLE = ErrorIssueHour._meta.db_table
_INSERT_USER = f"INSERT INTO {_USER_TABLE} (issue_id, user_hash) VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING id"  # noqa: S608
_COUNT_HOUR = (
    f"INSERT INTO {_HOUR_TABLE} (issue_id, organization_id, hour, count) VALUES (%s, %s, %s, 1) "  # noqa: S608
    f"ON CONFLICT (issue_id, hour) DO UPDATE SET count = {_HOUR_TABLE}.count + 1 RETURNING count"
)


def _insert_new_user(issue_id: int, who: str) -> bool:
    """Whether this user is new to the issue (one statement, no check-then-insert race)."""
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_USER, [issue_id, who])
        return cursor.fetchone() is not None


def _count_hour(issue_id: int, org_id: int | None, hour: datetime) -> int:
    """Add one to the issue's count for the hour; the new count."""
    with connection.cursor() as cursor:
        cursor.execute(_COUNT_HOUR, [issue_id, org_id, connection.ops.adapt_datetimefield_value(hour)])
        return cursor.fetchone()[0]


def _spike(issue_id: int, last_alert: datetime | None, in_hour: int, now: datetime) -> str:
    """ "spike" when this hour's count reaches OBSERVABILITY_SPIKE_MIN_EVENTS and OBSERVABILITY_SPIKE_FACTOR times
    the issue's hourly mean over the previous day, once an hour; "" otherwise. Cheap until the minimum is reached."""
    if in_hour < settings.OBSERVABILITY_SPIKE_MIN_EVENTS:
        return ""
    hour = hour_of(now)
    if last_alert is not None and last_alert >= hour:
        return ""
    before = ErrorIssueHour.objects.filter(issue_id=issue_id, hour__gte=hour - timedelta(hours=24), hour__lt=hour)
    mean = (before.aggregate(total=Sum("count"))["total"] or 0) / 24
    if in_hour < settings.OBSERVABILITY_SPIKE_FACTOR * mean:
        return ""
    ErrorIssue.objects.filter(pk=issue_id).update(last_spike_alert_at=now)
    return "spike"


def _schedule_alert(issue_id: int, reason: str) -> None:
    from analytics.observability.tasks import issue_alert

    transaction.on_commit(lambda: _send_later(issue_alert, issue_id, reason))


def _send_later(task, issue_id: int, reason: str) -> None:
    try:
        task.delay(issue_id, reason)
    except Exception:  # a broker outage must not turn an error report into a second error
        logger.exception("errors: could not queue the alert for issue %s", issue_id)


# --- chatapp's own exceptions ----------------------------------------------------------------------------------

_BASE_DIR = str(settings.BASE_DIR)


def _in_app(filename: str) -> bool:
    return filename.startswith(_BASE_DIR) and "/.venv/" not in filename and "site-packages" not in filename


def _frame(frame, lineno: int) -> dict:
    filename = frame.f_code.co_filename
    in_app = _in_app(filename)
    line = linecache.getline(filename, lineno).strip()
    result = {
        "filename": filename.removeprefix(_BASE_DIR + "/") if in_app else filename.rsplit("/", 1)[-1],
        "module": frame.f_globals.get("__name__", ""),
        "function": frame.f_code.co_name,
        "lineno": lineno,
        "context_line": line,
        "in_app": in_app,
    }
    if in_app:
        result["vars"] = {name: _short_repr(value) for name, value in list(frame.f_locals.items())[:50]}
    return result


def _short_repr(value) -> str:
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not stop the report
        text = f"<{type(value).__name__}>"
    return text[:MAX_VAR_REPR]


def _exception_values(exc: BaseException) -> list[dict]:
    chain, seen = [], set()
    while exc is not None and id(exc) not in seen and len(chain) < 5:
        seen.add(id(exc))
        chain.append(exc)
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    values = []
    for item in reversed(chain):  # oldest cause first, as Sentry orders them
        frames = [_frame(frame, lineno) for frame, lineno in traceback.walk_tb(item.__traceback__)][-MAX_FRAMES:]
        values.append({
            "type": type(item).__name__, "module": type(item).__module__, "value": str(item)[:1000],
            "stacktrace": {"frames": frames},
        })  # fmt: skip
    return values


def exception_capture(*, exc: BaseException, request=None, task_name: str = "") -> int | None:
    """Record one of chatapp's own unhandled exceptions (the operator's server issues); the issue's id, or None
    when it could not be recorded. Never raises."""
    try:
        event = {
            "event_id": uuid.uuid4().hex,
            "level": "error",
            "platform": "python",
            "exception": {"values": _exception_values(exc)},
            "environment": settings.CHATAPP_ENV,
            "release": settings.OBSERVABILITY_RELEASE,
            "tags": {},
        }
        if request is not None:
            match = getattr(request, "resolver_match", None)
            route = f"{request.method} /{match.route}" if match else f"{request.method} (unresolved)"
            event["transaction"] = route
            event["tags"] = {"route": route, "request_id": getattr(request, "request_id", "")}
            headers = {name: value for name, value in request.headers.items() if name.lower() not in ("cookie",)}
            event["request"] = {"method": request.method, "url": request.path, "headers": scrub(headers),
                                "query_string": request.META.get("QUERY_STRING", "")[:2000]}  # fmt: skip
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                event["user"] = {"id": user.pk}
            organization = getattr(request, "organization", None)
            if organization is not None:
                event["tags"]["organization"] = organization.slug
        if task_name:
            event["transaction"] = f"task {task_name}"
            event["tags"]["task"] = task_name
        return event_store(project=None, event=event)
    except Duplicate:
        return None
    except Exception:
        logger.exception("errors: could not record an unhandled exception")
        return None
