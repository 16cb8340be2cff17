from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self):
        # Every app's audit_events.py declares its events here, then the catalogue is closed.
        from django.utils.module_loading import autodiscover_modules

        from audit import checks  # noqa: F401  (registers the deploy check)
        from audit.registry import events

        autodiscover_modules("audit_events")
        events.freeze()

        # api.request events are written after responses, on the worker's own connection (audit/api_requests.py)
        from django.core.signals import request_finished

        from audit.api_requests import buffer

        request_finished.connect(buffer.flush_if_due, dispatch_uid="audit-api-request-flush")
