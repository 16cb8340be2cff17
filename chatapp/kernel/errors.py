"""One error shape for the whole API: RFC 9457 problem details.

    {"type": "...", "title": "Not Found", "status": 404, "detail": "...", "errors": {"field": ["..."]}}

`type` is "about:blank" when the status says it all, and a chatapp problem URN otherwise. The DRF exception
handler below covers exceptions raised in API views; `handler400/403/404/500` cover Django's own error
paths for /api/ URLs (unknown routes, errors outside DRF), so no API client ever sees an HTML page.
"""

from http import HTTPStatus

import structlog
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

logger = structlog.get_logger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem_type(slug: str) -> str:
    return f"urn:chatapp:problem:{slug}"


class Conflict(exceptions.APIException):
    """The request is valid but clashes with the current state (a duplicate name, an archived channel)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class ProblemException(exceptions.APIException):
    """An API error with its own problem type and extension members: subclass it, or raise it with them."""

    problem_slug = ""
    problem_title = ""

    def __init__(self, detail=None, *, status_code=None, slug=None, title=None, extra=None):
        super().__init__(detail)
        if status_code:
            self.status_code = status_code
        self.problem_slug = slug or self.problem_slug
        self.problem_title = title or self.problem_title
        self.problem_extra = extra or {}


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def problem_response(
    status_code: int,
    *,
    detail: str = "",
    errors=None,
    type_: str = "about:blank",
    title: str = "",
    headers=None,
    extra: dict | None = None,
) -> JsonResponse:
    body = {
        "type": type_,
        "title": title or HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail or HTTPStatus(status_code).description,
    }
    if errors:
        body["errors"] = errors
    body.update(extra or {})  # RFC 9457 extension members, e.g. the MFA methods a login can continue with
    response = JsonResponse(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _field_errors(detail) -> dict:
    """DRF's nested error detail as {field: [messages]}; errors not tied to a field go to `non_field_errors`."""
    if isinstance(detail, dict):
        return {key: _messages(value) for key, value in detail.items()}
    return {"non_field_errors": _messages(detail)}


def _messages(detail):
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            return [str(item) for item in detail]
        return [_messages(item) if isinstance(item, list | dict) else str(item) for item in detail]
    if isinstance(detail, dict):
        return {key: _messages(value) for key, value in detail.items()}
    return [str(detail)]


_TYPES = {
    exceptions.ValidationError: ("validation-error", "Validation failed"),
    exceptions.ParseError: ("malformed-request", "Malformed request"),
    exceptions.UnsupportedMediaType: ("unsupported-media-type", ""),
    exceptions.Throttled: ("rate-limited", ""),
    Conflict: ("conflict", ""),
    PayloadTooLarge: ("payload-too-large", ""),
}


def problem_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: map every known exception to a problem response; unknown ones become 500s."""
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()  # never echo Http404's text: it can name the model that was looked up
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # Django's handler500 answers, and logs the traceback

    # An exception may name its own problem type (ProblemException); otherwise the table above decides.
    slug, title = getattr(exc, "problem_slug", ""), getattr(exc, "problem_title", "")
    if not slug:
        slug, title = next(
            ((slug, title) for klass, (slug, title) in _TYPES.items() if isinstance(exc, klass)), ("", "")
        )
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(exc.detail)
        detail = "The request has invalid fields; see `errors`."
    else:
        errors = None
        detail = str(exc.detail) if not isinstance(exc.detail, list | dict) else str(exc.default_detail)
    problem = problem_response(
        response.status_code,
        detail=detail,
        errors=errors,
        type_=problem_type(slug) if slug else "about:blank",
        title=title,
        extra=getattr(exc, "problem_extra", None),
    )
    for header in ("WWW-Authenticate", "Retry-After", "Allow"):
        if header in response:
            problem[header] = response[header]
    return problem


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def handler400(request, exception=None):
    if _is_api(request):
        return problem_response(400, detail=str(exception) if exception else "")
    return defaults.bad_request(request, exception)


def handler403(request, exception=None):
    if _is_api(request):
        return problem_response(403)
    return defaults.permission_denied(request, exception)


def handler404(request, exception=None):
    if _is_api(request):
        return problem_response(404, detail="No such resource.")
    return defaults.page_not_found(request, exception)


def handler500(request):
    if _is_api(request):
        return problem_response(
            500, detail=f"An unexpected error occurred; quote request id {getattr(request, 'request_id', '-')}."
        )
    return defaults.server_error(request)
