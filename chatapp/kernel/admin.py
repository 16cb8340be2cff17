"""Admin helpers: saves and actions go through services, and a refused save says why instead of 'saved'."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from rest_framework.exceptions import APIException

from chatapp.kernel.models import WorkerHeartbeat

SERVICE_ERRORS = (APIException, PermissionDenied, ValidationError)


def service_error_text(exc) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc.detail) if isinstance(exc, APIException) else str(exc)


class ServiceAdminMixin:
    """For ModelAdmins whose save_model calls a service through `self.call_service(request, ...)`.

    A service that refuses (conflict, permission, validation) leaves the form on screen with the reason, and
    no "changed successfully" message or admin log entry is written for a change that did not happen.
    """

    def call_service(self, request, service, **kwargs):
        try:
            return service(**kwargs)
        except SERVICE_ERRORS as exc:
            request._service_error = service_error_text(exc)
            return None

    def run_action(self, request, service, **kwargs) -> bool:
        try:
            service(**kwargs)
        except SERVICE_ERRORS as exc:
            self.message_user(request, service_error_text(exc), messages.WARNING)
            return False
        return True

    def _refused(self, request):
        error = getattr(request, "_service_error", None)
        if error is None:
            return None
        self.message_user(request, f"Not saved: {error}", messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    def log_addition(self, request, obj, message):
        if getattr(request, "_service_error", None) is None:
            return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        if getattr(request, "_service_error", None) is None:
            return super().log_change(request, obj, message)

    def response_add(self, request, obj, post_url_continue=None):
        return self._refused(request) or super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        return self._refused(request) or super().response_change(request, obj)


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["hostname", "last_seen"]
    ordering = ["-last_seen"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
