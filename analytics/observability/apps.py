from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "analytics.observability"
    label = "observability"
    verbose_name = "Performance and errors"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Capture hooks: unhandled exceptions in requests, Celery task timings, failures and queue lag.
        from analytics.observability import hooks

        hooks.connect()
        register_metrics()


def register_metrics() -> None:
    """Performance and error series as dashboard and report metrics (analytics' catalogue)."""
    from analytics.metrics import catalogue, register_pairs
    from analytics.observability import selectors as s

    if "latency_p95" in catalogue:
        return
    hourly = ("hour", "day")
    for key, title, fn, unit, summary in (
        ("requests", "API requests", s.request_count_series, "", "sum"),
        ("error_rate", "Error rate (5xx)", s.error_rate_series, "", "mean"),
        ("latency_p50", "Latency p50", s.latency_p50_series, " ms", "mean"),
        ("latency_p95", "Latency p95", s.latency_p95_series, " ms", "mean"),
        ("latency_p99", "Latency p99", s.latency_p99_series, " ms", "mean"),
        ("error_events", "Errors captured", s.error_events_series, "", "sum"),
        ("new_issues", "New error issues", s.new_issues_series, "", "sum"),
    ):
        register_pairs(key, title, fn, intervals=hourly, unit=unit, summary=summary)
