"""Sentry protocol ingest: the official Sentry SDKs post envelopes to `/ingest/sentry/api/<project>/envelope/`.

A project's DSN is `https://<public key>@<host>/ingest/sentry/<project id>`; the SDK keeps the DSN's path and
appends `/api/<project id>/envelope/`. The key comes in `X-Sentry-Auth` (server SDKs) or the `sentry_key` query
parameter (browser SDKs). Answers: 200 with the event id (any 2xx is success for the SDKs); 400 for a body that is
not an envelope; 401 without a key; 403 for a wrong key, an unknown or inactive project (one answer, so project ids
cannot be probed); 413 past the size cap; 429 with Retry-After and X-Sentry-Rate-Limits over the project's quota
(the SDK then stops sending for that long). Item types other than event and transaction (sessions, client reports,
logs, attachments...) are skipped without dropping the rest. A plain Django view, not DRF: this is the hot path.
"""

import hmac
import logging
import re
import time
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from analytics.observability import envelopes
from analytics.observability.models import ErrorProject
from analytics.observability.perf import buffer
from analytics.observability.services.errors import Duplicate, event_store
from chatapp.kernel.errors import problem_response, problem_type

logger = logging.getLogger(__name__)

_AUTH_KEY = re.compile(r"sentry_key\s*=\s*([A-Za-z0-9]+)")
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Content-Encoding, X-Sentry-Auth",
    "Access-Control-Expose-Headers": "Retry-After, X-Sentry-Rate-Limits",
}
_CLOCK_SKEW_SECONDS = 3600
_IDS_IN_NAME = re.compile(r"(?<![A-Za-z])(?:[0-9a-f]{8}-[0-9a-f-]{27}|[0-9a-f]{12,}|\d+)(?![A-Za-z])", re.IGNORECASE)
# Transaction statuses (span status) that count as server errors in the performance view.
_FAILED_STATUSES = {"internal_error", "unknown_error", "unknown", "unavailable", "data_loss"}


def _problem(status: int, detail: str, slug: str = "", headers: dict | None = None):
    return problem_response(
        status, detail=detail, type_=problem_type(slug) if slug else "about:blank", headers={**_CORS, **(headers or {})}
    )


def _key_of(request) -> str:
    match = _AUTH_KEY.search(request.headers.get("X-Sentry-Auth", ""))
    if match:
        return match.group(1)
    return request.GET.get("sentry_key", "")


def _project(project_id: int, key: str) -> ErrorProject | None:
    project = (
        ErrorProject.objects.select_related("organization")
        .only("pk", "public_key", "is_active", "rate_limit_per_minute", "organization__is_active", "organization_id")
        .filter(pk=project_id)
        .first()
    )
    if project is None or not hmac.compare_digest(project.public_key.encode(), key.encode()):
        return None
    return project if project.is_active and project.organization.is_active else None


def _over_quota(project: ErrorProject) -> int:
    """Seconds the client must wait when this envelope is over the project's per-minute quota, else 0."""
    now = time.time()
    window = int(now // 60)
    key = f"observability:quota:{project.pk}:{window}"
    cache.add(key, 0, timeout=120)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=120)
        used = 1
    if used <= project.rate_limit_per_minute:
        return 0
    return max(1, 60 - int(now % 60))


def _timestamp(value) -> datetime | None:
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, tz=UTC)
        if isinstance(value, str):
            moment = datetime.fromisoformat(value)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _transaction(project: ErrorProject, payload: dict) -> bool:
    """A transaction item feeds the performance view as an SDK-measured request of the project's organization."""
    start, end = _timestamp(payload.get("start_timestamp")), _timestamp(payload.get("timestamp"))
    name = payload.get("transaction")
    if start is None or end is None or end < start or not isinstance(name, str) or not name:
        return False
    contexts = payload.get("contexts") if isinstance(payload.get("contexts"), dict) else {}
    trace = contexts.get("trace") if isinstance(contexts.get("trace"), dict) else {}
    operation = trace.get("op") if isinstance(trace.get("op"), str) else ""
    failed = trace.get("status") in _FAILED_STATUSES
    now = datetime.now(tz=UTC)
    if abs((end - now).total_seconds()) > _CLOCK_SKEW_SECONDS:
        end = now  # a client clock far off must not write into other hours
    # Ids in raw URLs would make one row per object: SDKs usually send route patterns, but not always.
    name = _IDS_IN_NAME.sub("{id}", name[:200])
    buffer.record_request(
        route=f"{operation} {name}".strip(), status=500 if failed else 200,
        duration_ms=(end - start).total_seconds() * 1000, scope=project.organization_id, source="sdk", at=end,
    )  # fmt: skip
    return True


@csrf_exempt
def envelope(request, project_id: int):
    if request.method == "OPTIONS":
        response = HttpResponse(status=200)
        for name, value in _CORS.items():
            response[name] = value
        return response
    if request.method != "POST":
        return _problem(405, "Post envelopes here.", headers={"Allow": "POST, OPTIONS"})
    key = _key_of(request)
    if not key:
        return _problem(401, "No sentry_key: send X-Sentry-Auth or ?sentry_key= (the DSN's public key).", "sentry-auth")
    project = _project(project_id, key)
    if project is None:
        return _problem(403, "The DSN's key does not match an active project.", "sentry-auth")
    wait = _over_quota(project)
    if wait:
        return _problem(
            429, f"Over the project's quota of {project.rate_limit_per_minute} envelopes a minute.", "rate-limited",
            headers={"Retry-After": str(wait), "X-Sentry-Rate-Limits": f"{wait}::project:quota_exceeded"},
        )  # fmt: skip
    try:
        data = envelopes.decode_body(
            request.body, request.headers.get("Content-Encoding", ""), limit=settings.OBSERVABILITY_INGEST_MAX_BYTES
        )
        header, items = envelopes.parse(data)
    except RequestDataTooBig:
        return _problem(413, "The envelope is too large.", "payload-too-large")
    except envelopes.TooLarge as exc:
        return _problem(413, str(exc), "payload-too-large")
    except envelopes.EnvelopeError as exc:
        return _problem(400, f"Not a Sentry envelope: {exc}.", "malformed-envelope")
    event_id = header.get("event_id") if isinstance(header.get("event_id"), str) else None
    for item_header, payload in items:
        kind = item_header.get("type")
        if kind not in ("event", "transaction"):
            continue  # sessions, client_report, log, attachment...: not ours to keep
        body = envelopes.json_payload(payload)
        if body is None:
            continue
        if kind == "transaction":
            _transaction(project, body)
            continue
        if event_id and not body.get("event_id"):
            body["event_id"] = event_id
        event_id = event_id or (body.get("event_id") if isinstance(body.get("event_id"), str) else None)
        try:
            event_store(project=project, event=body)
        except Duplicate:
            continue  # an SDK retry of an event we have: success, nothing new
    response = JsonResponse({"id": event_id} if event_id else {})
    for name, value in _CORS.items():
        response[name] = value
    return response
