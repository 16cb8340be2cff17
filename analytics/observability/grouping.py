"""Grouping events into issues: a stable fingerprint from the exception type and the normalized in-app frames.

What makes two events the same issue: the exception types of the chain, and for each in-app frame its module
(or file name without directories, query strings and build hashes), its function and the text of the line
(whitespace collapsed). Line *numbers* are left out, so adding code above a function does not split its issue,
but raising from another line of it makes another issue. Frames of libraries count only when no frame is in-app.
An event without an exception groups by its message template. A client's own `fingerprint` replaces all this;
`{{ default }}` inside it stands for the default components.
"""

import hashlib
import json
import re

_DEFAULT = re.compile(r"^\{\{\s*default\s*\}\}$")
_HASHY = re.compile(r"\b[0-9a-f]{8,}\b|\d+", re.IGNORECASE)


def _frames(exception: dict) -> list[dict]:
    stacktrace = exception.get("stacktrace") if isinstance(exception, dict) else None
    frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
    return [frame for frame in frames if isinstance(frame, dict)] if isinstance(frames, list) else []


def exceptions_of(event: dict) -> list[dict]:
    container = event.get("exception")
    values = container.get("values") if isinstance(container, dict) else container
    return [value for value in values if isinstance(value, dict)] if isinstance(values, list) else []


def _where(frame: dict) -> str:
    if frame.get("module"):
        return str(frame["module"])
    name = str(frame.get("filename") or frame.get("abs_path") or "?")
    name = name.split("?", 1)[0].split("#", 1)[0].rsplit("/", 1)[-1]
    return _HASHY.sub("", name)


def _frame_component(frame: dict) -> list[str]:
    line = frame.get("context_line")
    line = " ".join(str(line).split()) if line else str(frame.get("lineno", ""))
    return [_where(frame), str(frame.get("function") or "?"), line]


def in_app_frames(event: dict) -> list[dict]:
    frames = [frame for exception in exceptions_of(event) for frame in _frames(exception)]
    return [frame for frame in frames if frame.get("in_app")]


def default_components(event: dict) -> list:
    exceptions = exceptions_of(event)
    if exceptions:
        use_all = not in_app_frames(event)
        return [
            [str(exception.get("type") or "Error")]
            + [_frame_component(f) for f in _frames(exception) if use_all or f.get("in_app")]
            for exception in exceptions
        ]
    logentry = event.get("logentry") if isinstance(event.get("logentry"), dict) else {}
    message = logentry.get("message") or logentry.get("formatted") or event.get("message") or ""
    if isinstance(message, dict):
        message = message.get("message") or message.get("formatted") or ""
    return [["message", str(message)[:1000]]]


def fingerprint(event: dict) -> str:
    """The hex SHA-256 that names the event's issue."""
    components: list = default_components(event)
    client = event.get("fingerprint")
    if isinstance(client, list) and client and all(isinstance(part, str | int | float) for part in client):
        components = [
            default_components(event) if isinstance(part, str) and _DEFAULT.match(part.strip()) else str(part)
            for part in client[:50]
        ]
    return hashlib.sha256(json.dumps(components, separators=(",", ":")).encode()).hexdigest()


def title_of(event: dict) -> tuple[str, str, str]:
    """(title, exception type, culprit) for the issue list."""
    exceptions = exceptions_of(event)
    if exceptions:
        last = exceptions[-1]
        kind = str(last.get("type") or "Error")
        value = str(last.get("value") or "")
        frames = [f for f in _frames(last) if f.get("in_app")] or _frames(last)
        culprit = f"{_where(frames[-1])} in {frames[-1].get('function') or '?'}" if frames else ""
        return (f"{kind}: {value}" if value else kind)[:255], kind[:200], culprit[:255]
    title = str(default_components(event)[0][1]) or "(no message)"
    return title[:255], "", str(event.get("transaction") or event.get("culprit") or "")[:255]
