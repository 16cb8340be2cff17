"""Per-request metrics: duration, status and database queries, counted by the resolved route."""

import logging
import time

from django.db import connection

from analytics.observability.perf import buffer

logger = logging.getLogger(__name__)


class _QueryCounter:
    __slots__ = ("count",)

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


class ObservabilityMiddleware:
    """Counts every request into the in-process histograms (analytics/observability/perf.py).

    The route is the resolved pattern (`GET /api/v1/orgs/<slug:org_slug>/channels/`), never the raw path, so the
    number of rows stays bounded whatever clients request; unresolved paths share one row per method. The scope
    is the organization an org-scoped view resolved (0 otherwise).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        counter = _QueryCounter()
        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            response = self.get_response(request)
        duration_ms = (time.perf_counter() - started) * 1000
        try:
            match = request.resolver_match
            route = f"{request.method} /{match.route}" if match else f"{request.method} (unresolved)"
            organization = getattr(request, "organization", None)
            buffer.record_request(
                route=route, status=response.status_code, duration_ms=duration_ms, db_queries=counter.count,
                scope=organization.pk if organization is not None else 0,
            )  # fmt: skip
        except Exception:  # metrics never break the request they measure
            logger.exception("performance: could not count a request")
        return response
