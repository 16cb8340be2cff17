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
