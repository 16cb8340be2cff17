"""Request id, access log line and early body-size refusal."""

import re
import time
import uuid

import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from chatapp.kernel.errors import problem_response, problem_type

logger = structlog.get_logger("chatapp.request")

# Accept a caller's id only if it is a sane token, so log lines cannot be forged through the header.
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Inbound integration URLs carry their credential in the path (/hooks/<kind>/<token>/...): never log it.
_HOOK_TOKEN_RE = re.compile(r"^(/hooks/[^/]+/)[^/]+")


class RequestIdMiddleware:
    """Read X-Request-ID (or make one), bind it to every log line, return it, and log one access line."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        user = getattr(request, "user", None)
        logger.info(
            "request",
            method=request.method,
            path=_HOOK_TOKEN_RE.sub(r"\1[redacted]", request.path),
            status=response.status_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            user_id=user.pk if user is not None and user.is_authenticated else None,
        )
        structlog.contextvars.clear_contextvars()
        return response


class BodySizeLimitMiddleware:
    """Refuse an oversized body with 413 from its Content-Length, before anything reads it.

    Django itself only raises RequestDataTooBig (a 400) once a parser reads the body; chunked bodies without
    a length are still caught there and mapped to 413 by the API's exception handler.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        # Routes that take large uploads on purpose (plugin packages) name their own limit by path prefix.
        for prefix, larger in getattr(settings, "BODY_SIZE_LIMIT_BY_PATH_PREFIX", {}).items():
            if request.path.startswith(prefix):
                limit = larger
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return problem_response(400, detail="Content-Length is not a number.")
        if limit is not None and length > limit:
            return problem_response(
                413, detail=f"The request body is larger than {limit} bytes.", type_=problem_type("payload-too-large")
            )
        return self.get_response(request)
