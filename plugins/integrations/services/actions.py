"""Message actions that call another tool's REST API with the organization's token: create an issue from a chat
message, or post a message as a comment (GitHub, GitLab, Jira Cloud). Every request goes through the SSRF-safe
transport; the token is read from the installation's encrypted secrets and never logged or returned."""

import base64
import hashlib
import json
import re
from urllib.parse import quote, urlsplit

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework import status

from audit.services import Target, audit_record
from chatapp.kernel import outbound
from chatapp.kernel.errors import ProblemException
from plugins.integrations import audit_events as events
from plugins.integrations.handlers import first_line
from plugins.integrations.jira.adf import to_adf
from plugins.integrations.models import Installation
from plugins.integrations.services.common import policy

ISSUE_TRACKERS = ("github", "gitlab", "jira")
NAMES = {"github": "GitHub", "gitlab": "GitLab", "jira": "Jira"}


class UpstreamError(ProblemException):
    status_code = status.HTTP_502_BAD_GATEWAY
    problem_slug = "integration-upstream"
    problem_title = "The other tool refused or could not be reached"


def _call(installation: Installation, method: str, url: str, payload: dict, headers: dict) -> dict:
    name = NAMES[installation.integration]
    body = json.dumps(payload).encode()
    try:
        response = outbound.request(
            method, url, body=body, headers={"Content-Type": "application/json", "Accept": "application/json",
                                             **headers}, policy=policy(max_response_bytes=256 * 1024),
        )  # fmt: skip
    except outbound.OutboundError as exc:
        raise UpstreamError(f"{name} could not be reached ({exc}).") from exc
    if not 200 <= response.status < 300:
        hint = " Check the access token in the integration's settings." if response.status in (401, 403) else ""
        raise UpstreamError(f"{name} answered HTTP {response.status}.{hint}")
    try:
        return json.loads(response.body or b"{}")
    except ValueError as exc:
        raise UpstreamError(f"{name} sent an answer that is not JSON.") from exc


def _secret(installation: Installation, name: str) -> str:
    value = (installation.secrets or {}).get(name)
    if not value:
        raise ValidationError({"integration": [f"Set the {name.replace('_', ' ')} in the integration's settings."]})
    return value


def _target(installation: Installation, target: str) -> str:
    default = {"github": "default_repository", "gitlab": "default_project", "jira": "default_project"}
    value = target or installation.settings.get(default[installation.integration], "")
    if not value:
        raise ValidationError({"target": ["Give a target, or set a default in the integration's settings."]})
    return value


def _quoted_message(message) -> str:
    author = message.author.full_name or message.author.email if message.author else "someone"
    return f"{message.body}\n\n— {author} in #{message.channel.name} (chatapp message {message.pk})"


def _github_headers(installation):
    return {"Authorization": f"Bearer {_secret(installation, 'token')}", "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28"}  # fmt: skip


def _gitlab_headers(installation):
    return {"PRIVATE-TOKEN": _secret(installation, "token")}


def _jira_headers(installation):
    credentials = f"{installation.settings.get('email', '')}:{_secret(installation, 'api_token')}"
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def _api(installation, default: str) -> str:
    return (installation.settings.get("api_url") or default).rstrip("/")


def _jira_site(installation) -> str:
    site = (installation.settings.get("site_url") or "").rstrip("/")
    if not site:
        raise ValidationError({"integration": ["Set the Jira site URL in the integration's settings."]})
    return site


def issue_from_message(*, actor, installation: Installation, message, target: str = "", title: str = "") -> dict:
    """Create an issue whose body quotes the message; returns {"url", "key"}. Audited with the message."""
    kind = installation.integration
    target = _target(installation, target)
    title = (title or first_line(message.body, 120) or "From chat").strip()
    body = _quoted_message(message)
    if kind == "github":
        api = _api(installation, "https://api.github.com")
        result = _call(installation, "POST", f"{api}/repos/{quote(target, safe='/')}/issues",
                       {"title": title, "body": body}, _github_headers(installation))  # fmt: skip
        link = {"url": result.get("html_url", ""), "key": f"{target}#{result.get('number')}"}
    elif kind == "gitlab":
        api = _api(installation, "https://gitlab.com/api/v4")
        result = _call(installation, "POST", f"{api}/projects/{quote(target, safe='')}/issues",
                       {"title": title, "description": body}, _gitlab_headers(installation))  # fmt: skip
        link = {"url": result.get("web_url", ""), "key": f"{target}#{result.get('iid')}"}
    else:
        site = _jira_site(installation)
        fields = {"project": {"key": target}, "summary": title, "issuetype": {"name": "Task"},
                  "description": to_adf(body)}  # fmt: skip
        headers = _jira_headers(installation)
        result = _call(installation, "POST", f"{site}/rest/api/3/issue", {"fields": fields}, headers)
        link = {"url": f"{site}/browse/{result.get('key')}", "key": str(result.get("key"))}
    _audit(events.ISSUE_CREATED, actor, installation, message, link)
    return link


def comment_from_message(*, actor, installation: Installation, message, issue: str, target: str = "") -> dict:
    """Post the message as a comment on an issue; returns {"url", "key"}."""
    kind = installation.integration
    body = _quoted_message(message)
    if kind == "github":
        target = _target(installation, target)
        api = _api(installation, "https://api.github.com")
        result = _call(installation, "POST", f"{api}/repos/{quote(target, safe='/')}/issues/{quote(issue)}/comments",
                       {"body": body}, _github_headers(installation))  # fmt: skip
        link = {"url": result.get("html_url", ""), "key": f"{target}#{issue}"}
    elif kind == "gitlab":
        target = _target(installation, target)
        api = _api(installation, "https://gitlab.com/api/v4")
        result = _call(installation, "POST", f"{api}/projects/{quote(target, safe='')}/issues/{quote(issue)}/notes",
                       {"body": body}, _gitlab_headers(installation))  # fmt: skip
        link = {"url": f"{api}/projects/{quote(target, safe='')}/issues/{issue}/notes/{result.get('id')}",
                "key": f"{target}#{issue}"}  # fmt: skip
    else:
        site = _jira_site(installation)
        result = _call(installation, "POST", f"{site}/rest/api/3/issue/{quote(issue)}/comment",
                       {"body": to_adf(body)}, _jira_headers(installation))  # fmt: skip
        link = {"url": f"{site}/browse/{issue}?focusedCommentId={result.get('id')}", "key": issue}
    _audit(events.COMMENT_POSTED, actor, installation, message, link)
    return link


def _audit(event, actor, installation, message, link) -> None:
    with transaction.atomic():
        audit_record(
            org=installation.organization, event=event, actor=actor,
            target=Target("chat.message", str(message.pk), f"message {message.pk} in channel {message.channel_id}"),
            metadata={"integration": installation.integration, "key": link["key"], "url": link["url"]},
        )  # fmt: skip


# --- link previews -------------------------------------------------------------------------------------------------

_GITHUB_LINK = re.compile(r"^https://github\.com/([\w.-]+)/([\w.-]+)/(issues|pull)/(\d+)/?$")
_GITLAB_LINK = re.compile(r"^https://([^/]+)/(.+?)/-/(issues|merge_requests)/(\d+)/?$")
PREVIEW_TTL = 300


def link_preview(*, org, url: str) -> dict | None:
    """Title, state and author of a GitHub issue or pull request, or a GitLab issue or merge request, read with
    the organization's token (cached 5 minutes); None when the URL is not one, or the tool is not installed."""
    url = (url or "").strip()[:500]
    key = f"integrations:preview:{org.pk}:{hashlib.sha256(url.encode()).hexdigest()}"
    cached = cache.get(key)
    if cached is not None:
        return cached or None
    preview = _preview(org, url)
    cache.set(key, preview or {}, PREVIEW_TTL)
    return preview


def _preview(org, url: str) -> dict | None:
    installations = {i.integration: i for i in Installation.objects.for_org(org).filter(
        integration__in=("github", "gitlab"), enabled=True)}  # fmt: skip
    match = _GITHUB_LINK.match(url)
    if match and "github" in installations:
        installation = installations["github"]
        owner, repo, kind, number = match.groups()
        api = _api(installation, "https://api.github.com")
        data = _get(installation, f"{api}/repos/{owner}/{repo}/issues/{number}", _github_headers(installation))
        return {"provider": "github", "kind": "pull request" if kind == "pull" else "issue", "url": url,
                "key": f"{owner}/{repo}#{number}", "title": data.get("title", ""), "state": data.get("state", ""),
                "author": (data.get("user") or {}).get("login", "")}  # fmt: skip
    match = _GITLAB_LINK.match(url)
    if match and "gitlab" in installations:
        installation = installations["gitlab"]
        api = _api(installation, "https://gitlab.com/api/v4")
        host, path, kind, number = match.groups()
        if urlsplit(api).hostname != host:
            return None
        data = _get(
            installation, f"{api}/projects/{quote(path, safe='')}/{kind}/{number}", _gitlab_headers(installation)
        )
        sigil = "!" if kind == "merge_requests" else "#"
        return {"provider": "gitlab", "kind": "merge request" if sigil == "!" else "issue", "url": url,
                "key": f"{path}{sigil}{number}", "title": data.get("title", ""), "state": data.get("state", ""),
                "author": (data.get("author") or {}).get("username", "")}  # fmt: skip
    return None


def _get(installation, url: str, headers: dict) -> dict:
    try:
        response = outbound.request("GET", url, headers={"Accept": "application/json", **headers},
                                    policy=policy(max_response_bytes=256 * 1024))  # fmt: skip
    except outbound.OutboundError:
        return {}
    if response.status != 200:
        return {}
    try:
        data = json.loads(response.body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
