"""What an inbound handler (plugins/integrations/<name>/handlers.py) provides, and helpers they share."""

import fnmatch
import hashlib
import hmac
from dataclasses import dataclass, field


@dataclass
class Rendered:
    """A readable message for one inbound event, with what routes filter on."""

    text: str
    scope: str = ""  # repository (owner/name), project path or project key
    branch: str = ""
    extra: dict = field(default_factory=dict)


class Refused(Exception):
    """The request is not authentic (missing or wrong signature, stale timestamp): 401, nothing posted."""


def hmac_hex(key: bytes, body: bytes, algorithm=hashlib.sha256) -> str:
    return hmac.new(key, body, algorithm).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def route_channels(routes: list[dict], *, event: str, scope_key: str, rendered: Rendered) -> list[int]:
    """Channel ids of the routes this event passes (events, scope and branch filters; empty filter = all)."""
    channels = []
    for route in routes or []:
        if route.get("events") and event not in route["events"]:
            continue
        if route.get(scope_key) and rendered.scope.lower() not in {s.lower() for s in route[scope_key]}:
            continue
        branches = route.get("branches") if rendered.branch else None  # events without a branch pass
        if branches and not any(fnmatch.fnmatchcase(rendered.branch, pattern) for pattern in branches):
            continue
        if route["channel_id"] not in channels:
            channels.append(route["channel_id"])
    return channels


def first_line(text, limit: int = 100) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def quote(text, limit: int = 300) -> str:
    text = (text or "").strip()
    if not text:
        return ""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return "\n".join("> " + line for line in text.splitlines())


def link(label, url) -> str:
    label = str(label or "").replace("[", "(").replace("]", ")")
    return f"[{label}]({url})" if url else label
