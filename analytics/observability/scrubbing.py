"""Secrets and personal data are removed from an event before anything is stored.

Two passes over the whole event (SDK payloads are untrusted and nest anything anywhere):
- by key: a value under a name that sounds secret or personal (password, token, api_key, authorization, cookie,
  email, ip_address...) is replaced by FILTERED whatever it is;
- by value: strings are searched for secret shapes (bearer tokens, JWTs, well-known key prefixes, URL
  credentials, private keys, card numbers) e-mail and IPv4 addresses, which are replaced in place.
The user becomes a pseudonymous hash (`user_hash`): enough to count users affected, not to name them.
"""

import functools
import hashlib
import hmac
import re

from django.conf import settings

FILTERED = "[Filtered]"
MAX_DEPTH = 12
MAX_STRING = 4096

_SENSITIVE_KEY = re.compile(
    r"pass(word|wd|phrase)?|secret|token|api[-_.]?key|apikey|auth(?!or)|credential|cookie|session|csrf|xsrf|"
    r"private[-_.]?key|signature|bearer|jwt|otp|\bpin\b|card[-_.]?number|\bcvv\b|\bcvc\b|\biban\b|\bssn\b|"
    r"e[-_.]?mail|ip[-_.]?address|remote[-_.]?addr|x[-_.]?forwarded[-_.]?for|x[-_.]?real[-_.]?ip|phone",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(
    r"(?i:bearer|basic|token|digest)\s+[A-Za-z0-9._~+/=-]{8,}"  # Authorization header values
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWTs
    r"|\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8,}"  # Stripe-style keys
    r"|\b(?:ghp|gho|ghu|ghs|github_pat|glpat|xox[abpors])[-_][A-Za-z0-9_-]{8,}"  # GitHub, GitLab, Slack tokens
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key ids
    r"|\bck_[A-Za-z0-9_-]{16,}"  # chatapp API keys
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"
    r"|(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"  # user:password@ in URLs
    r"|\b(?:\d[ -]?){13,19}\b",  # card-number-like digit runs
)
# name=value inside a string (query strings, log lines, source lines): the value goes, the name stays.
_SECRET_ASSIGNMENT = re.compile(
    r"(?i)\b([\w-]*(?:pass(?:word|wd)?|secret|token|api[-_]?key|apikey|credential|session|private[-_]?key)[\w-]*)"
    r"(\s*[:=]\s*[\"']?)([^\"'\s,;&]+)"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_IPV4 = re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")
# Request parts that never carry anything we need and often carry credentials.
_DROPPED_REQUEST_KEYS = {"cookies", "env", "data"}


@functools.lru_cache(maxsize=4096)
def _sensitive_name(name: str) -> bool:
    return bool(_SENSITIVE_KEY.search(name))


def is_sensitive_key(key) -> bool:
    return _sensitive_name(str(key)[:200])  # names repeat across events: cached


def scrub_string(value: str) -> str:
    if len(value) < 7:  # shorter than the shortest thing replaced (an IPv4 address such as 1.1.1.1)
        return value
    if len(value) > MAX_STRING:
        value = value[:MAX_STRING] + "…"
    value = _SECRET_VALUE.sub(FILTERED, value)
    # The cheaper patterns only run on strings that hold their anchor character (most frame strings do not).
    if "=" in value or ":" in value:
        value = _SECRET_ASSIGNMENT.sub(lambda m: f"{m.group(1)}{m.group(2)}{FILTERED}", value)
    if "@" in value:
        value = _EMAIL.sub("[email]", value)
    if "." in value:
        value = _IPV4.sub("[ip]", value)
    return value


def scrub(value, depth: int = 0):
    """A scrubbed copy of any JSON-like value."""
    if depth > MAX_DEPTH:
        return FILTERED
    if isinstance(value, dict):
        return {
            str(key): FILTERED if is_sensitive_key(key) and item not in (None, "", [], {}) else scrub(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        # [name, value] pairs (how SDKs send headers and query strings) are judged by their name
        if len(value) == 2 and isinstance(value[0], str) and is_sensitive_key(value[0]):
            return [value[0], FILTERED]
        return [scrub(item, depth + 1) for item in value]
    if isinstance(value, str):
        return scrub_string(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    return scrub_string(str(value))


def user_hash(*, scope: str, user_id) -> str:
    """A pseudonymous user: HMAC-SHA256 of the id under the server key, per project, so it cannot be joined
    across organizations or reversed by anyone without the key."""
    if user_id in (None, ""):
        return ""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"errors:{scope}:{user_id}".encode(), hashlib.sha256).hexdigest()


def scrub_event(event: dict) -> dict:
    """The event as it may be stored: personal data out of `user` and `request`, then both passes everywhere."""
    event = dict(event)
    event.pop("user", None)  # replaced by user_hash by the caller
    request = event.get("request")
    if isinstance(request, dict):
        event["request"] = {key: value for key, value in request.items() if key not in _DROPPED_REQUEST_KEYS}
    return scrub(event)
