"""/ingest/sentry/...: where the Sentry SDKs send envelopes (see ingest.py)."""

from django.urls import path

from analytics.observability import ingest

urlpatterns = [
    path("api/<int:project_id>/envelope/", ingest.envelope, name="sentry-envelope"),
]
