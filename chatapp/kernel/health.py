"""Liveness (/health), readiness (/health/ready) and Prometheus metrics (/metrics)."""

import dataclasses

from django.conf import settings
from django.http import HttpResponseForbidden, JsonResponse
from django.views.decorators.cache import never_cache
from django_prometheus.exports import ExportToDjangoView
from health_check.base import HealthCheck
from health_check.checks import Cache, Database
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView


@dataclasses.dataclass
class Broker(HealthCheck):
    """The Celery broker accepts a connection (Redis, RabbitMQ or the filesystem default)."""

    def run(self):
        from chatapp.celery import app

        try:
            with app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=3)
        except Exception as exc:  # kombu raises the transport's own errors
            raise ServiceUnavailable(f"broker unreachable ({type(exc).__name__})") from exc


READINESS_CHECKS = {"database": Database, "cache": Cache, "broker": Broker}


@never_cache
def liveness(request):
    """200 while the process can answer; no dependency is touched."""
    return JsonResponse({"status": "ok"})


class ReadinessView(HealthCheckView):
    """200 when the database, the cache and the broker answer; 503 naming what failed otherwise."""

    checks = tuple(READINESS_CHECKS.values())

    async def get(self, request, *args, **kwargs):
        import asyncio

        with self.get_executor() as executor:
            results = await asyncio.gather(*(check.get_result(executor) for check in self.get_checks()))
        names = {klass: name for name, klass in READINESS_CHECKS.items()}
        checks = {names[type(r.check)]: "ok" if r.error is None else str(r.error) for r in results}
        failed = [name for name, state in checks.items() if state != "ok"]
        body = {"status": "unavailable" if failed else "ok", "checks": checks}
        if failed:
            body["failed"] = failed
        return JsonResponse(body, status=503 if failed else 200)


@never_cache
def metrics(request):
    """Prometheus text; restricted to METRICS_ALLOWED_IPS when that is set."""
    allowed = settings.METRICS_ALLOWED_IPS
    if allowed and request.META.get("REMOTE_ADDR") not in allowed:
        return HttpResponseForbidden("metrics are not served to this address\n")
    return ExportToDjangoView(request)
