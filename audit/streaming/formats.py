"""Wire formats of streamed audit events: the webhook body and signature, and RFC 5424 syslog messages."""

import hashlib
import hmac
import json
import socket

from audit.export import EXPORT_FIELDS
from audit.models import Outcome

SIGNATURE_HEADER = "X-Chatapp-Signature"
TIMESTAMP_HEADER = "X-Chatapp-Timestamp"
SIGNATURE_VERSION = "v1"

# RFC 5424: facility 13 is "log audit"; severity 6 informational, 4 warning.
SYSLOG_FACILITY = 13
SEVERITY = {Outcome.SUCCESS: 6, Outcome.FAILURE: 4, Outcome.DENIED: 4}
# SD-ID "name@<private enterprise number>"; 32473 is the number RFC 5612 reserves for documentation and examples.
SD_ID = "chatapp@32473"
SD_PARAMS = ("event_id", "chain", "sequence", "event_code", "category", "outcome", "actor_type", "actor_id",
             "target_type", "target_id", "ip", "request_id")  # fmt: skip
APP_NAME = "chatapp"


def event_payload(row: dict) -> dict:
    """One event as sent: every exported (sealed) field and the hash, plus its unique id `chain:sequence`."""
    payload = {name: row[name] for name in EXPORT_FIELDS}
    payload["occurred_at"] = row["occurred_at"].isoformat(timespec="microseconds")
    payload["event_id"] = f"{row['chain']}:{row['sequence']}"
    return payload


def webhook_body(org_slug: str, events: list[dict]) -> bytes:
    return json.dumps({"organization": org_slug, "events": events}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=str).encode()  # fmt: skip


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`v1=` HMAC-SHA256 (hex) of "{timestamp}.{raw body}", keyed with the destination's signing secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def _sd_escape(value) -> str:
    # RFC 5424 section 6.3.3: '"', '\' and ']' are escaped inside PARAM-VALUE.
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _printable_ascii(text: str, limit: int) -> str:
    cleaned = "".join(ch for ch in text if 33 <= ord(ch) <= 126)[:limit]
    return cleaned or "-"


def syslog_message(payload: dict, *, hostname: str | None = None) -> bytes:
    """One RFC 5424 message: header, one SD-ELEMENT with the event's keys, and the event as UTF-8 JSON (BOM)."""
    pri = SYSLOG_FACILITY * 8 + SEVERITY.get(payload["outcome"], 5)
    timestamp = payload["occurred_at"].replace("+00:00", "Z")
    host = _printable_ascii(hostname or socket.gethostname(), 255)
    msgid = _printable_ascii(payload["event_name"], 32)
    params = " ".join(f'{name}="{_sd_escape(payload.get(name))}"' for name in SD_PARAMS)
    header = f"<{pri}>1 {timestamp} {host} {APP_NAME} - {msgid} [{SD_ID} {params}] "
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return header.encode() + b"\xef\xbb\xbf" + body.encode()


def octet_frame(message: bytes) -> bytes:
    """RFC 6587 octet-counting: "<length in bytes> <message>", so messages may contain newlines."""
    return str(len(message)).encode() + b" " + message
