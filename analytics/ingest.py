"""PostHog-compatible ingest, so the official PostHog SDKs work unchanged with their host set to
`https://<chatapp>/ingest/posthog` and an organization's ingestion key as their project key.

Paths the SDKs use: `batch/` (server SDKs: {"api_key", "batch": [...]}), `capture/`, `e/`, `i/v0/e/` (browser and
mobile SDKs: one event or a list, the key in `api_key`/`token` or each event's `properties.token`; bodies may be
gzip (`Content-Encoding: gzip` or `?compression=gzip-js`) or base64 in a form field `data`), and `decide/`/`flags/`
(answered with no flags: chatapp does not serve feature flags). Only HTTP 200 counts as success for these SDKs
(anything else is retried with the same uuids), so every authenticated request that could be read gets 200;
events are de-duplicated on (organization, uuid, timestamp). A bad key gets 401, an unreadable body 400.
"""

import base64
import json
import zlib
from urllib.parse import parse_qs

import structlog
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from analytics.services import ingest_key_authenticate, posthog_ingest
from audit.context import current as request_context

logger = structlog.get_logger(__name__)


class BadBody(ValueError):
    pass


def _cors(response, request):
    # Browser SDKs post cross-origin from the organization's own sites; the key, not the origin, authorizes.
    response["Access-Control-Allow-Origin"] = request.headers.get("Origin", "*")
    response["Access-Control-Allow-Methods"] = "POST, GET, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type, Content-Encoding"
    response["Access-Control-Max-Age"] = "86400"
    return response


def _inflate(data: bytes) -> bytes:
    """gzip or zlib, refusing anything that grows past the cap (a decompression bomb)."""
    cap = settings.ANALYTICS_INGEST_MAX_BYTES
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # accepts gzip and zlib headers
    try:
        out = inflater.decompress(data, cap + 1)
    except zlib.error:
        raise BadBody("the body is not valid gzip") from None
    if len(out) > cap or inflater.unconsumed_tail:
        raise BadBody(f"the body is larger than {cap} bytes once decompressed")
    return out


def _payload(request):
    try:
        raw = request.body
    except RequestDataTooBig:
        raise BadBody("the body is too large") from None
    compression = request.GET.get("compression", "")
    if request.content_type == "application/x-www-form-urlencoded" and raw[:5] == b"data=":
        fields = parse_qs(raw.decode("latin-1"))
        raw = fields.get("data", [""])[0].encode()
        compression = fields.get("compression", [compression])[0]
        try:
            raw = base64.b64decode(raw + b"=" * (-len(raw) % 4))
        except ValueError:
            raise BadBody("the data field is not base64") from None
    if request.headers.get("Content-Encoding", "").lower() == "gzip" or compression in ("gzip", "gzip-js"):
        raw = _inflate(raw)
    elif compression not in ("", "base64"):
        raise BadBody(f"compression {compression!r} is not supported (use gzip)")
    if len(raw) > settings.ANALYTICS_INGEST_MAX_BYTES:
        raise BadBody("the body is too large")
    try:
        return json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise BadBody("the body is not JSON") from None


def _items_and_key(payload, request) -> tuple[list, str]:
    if isinstance(payload, dict) and isinstance(payload.get("batch"), list):
        items = payload["batch"]
    elif isinstance(payload, list):
        items = payload
    elif isinstance(payload, dict) and "event" in payload:
        items = [payload]
    else:
        raise BadBody("expected a batch, a list of events or one event")
    key = ""
    if isinstance(payload, dict):
        key = payload.get("api_key") or payload.get("token") or ""
    if not key:
        key = request.GET.get("token") or request.GET.get("api_key") or ""
    if not key:
        for item in items:
            if isinstance(item, dict):
                props = item.get("properties") if isinstance(item.get("properties"), dict) else {}
                key = item.get("api_key") or props.get("token") or ""
                if key:
                    break
    return items, str(key)


@csrf_exempt
def capture(request):
    if request.method == "OPTIONS":
        return _cors(JsonResponse({}), request)
    if request.method != "POST":
        return _cors(JsonResponse({"type": "validation_error", "detail": "POST events here."}, status=405), request)
    try:
        items, raw_key = _items_and_key(_payload(request), request)
    except BadBody as exc:
        return _cors(JsonResponse({"type": "validation_error", "detail": str(exc)}, status=400), request)
    key = ingest_key_authenticate(raw_key)
    if key is None:
        detail = "Project API key invalid. Use an ingestion key of your chatapp organization."
        return _cors(JsonResponse({"type": "authentication_error", "detail": detail}, status=401), request)
    try:
        posthog_ingest(key=key, items=items, ip=request_context().ip)
    except Exception:
        # A 5xx would make the SDK retry forever; the events of this request are lost and the failure is counted.
        from analytics.tracking import WRITE_FAILURES

        WRITE_FAILURES.inc(len(items))
        logger.exception("analytics: PostHog batch could not be stored", count=len(items))
    return _cors(JsonResponse({"status": 1}), request)


@csrf_exempt
def flags(request):
    """decide/ and flags/: no feature flags are served; the SDKs carry on capturing."""
    body = {"featureFlags": {}, "featureFlagPayloads": {}, "flags": {}, "errorsWhileComputingFlags": False,
            "sessionRecording": False, "supportedCompression": ["gzip", "gzip-js"]}  # fmt: skip
    return _cors(JsonResponse(body), request)
