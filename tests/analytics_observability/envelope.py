"""Building Sentry envelopes the way the SDKs do, for the protocol tests and the bench."""

import gzip
import json
import uuid
import zlib

import brotli


def exception_event(*, value="boom", function="handler", line="raise KeyError(key)", event_id=None, **extra) -> dict:
    return {
        "event_id": event_id or uuid.uuid4().hex,
        "level": "error",
        "platform": "python",
        "release": "app@1.0",
        "exception": {"values": [{"type": "KeyError", "value": value, "stacktrace": {"frames": [
            {"module": "django.core.handlers", "function": "inner", "context_line": "response = get_response()",
             "in_app": False},
            {"module": "shop.views", "function": function, "context_line": line, "lineno": 10, "in_app": True},
        ]}}]},
        **extra,
    }  # fmt: skip


def envelope(*items: tuple[str, dict | bytes], header: dict | None = None, lengths: bool = True) -> bytes:
    lines = [json.dumps(header if header is not None else {}).encode()]
    for kind, payload in items:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        item_header = {"type": kind, **({"length": len(body)} if lengths else {})}
        lines += [json.dumps(item_header).encode(), body]
    return b"\n".join(lines) + b"\n"


def compress(data: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(data)
    if encoding == "deflate":
        return zlib.compress(data)
    if encoding == "br":
        return brotli.compress(data)
    return data


def auth_header(key: str) -> str:
    return f"Sentry sentry_version=7, sentry_client=sentry.python/2.75.0, sentry_key={key}"
