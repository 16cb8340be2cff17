"""Jira Cloud webhooks: signed with the admin webhook's secret in X-Hub-Signature ("sha256=<hex HMAC of the raw
body>") when one is configured (webhooks registered by apps are not signed: then only the URL token protects
them); de-duplicated on X-Atlassian-Webhook-Identifier (the same on Jira's retries). An update that changes the
status is the `issue_transitioned` event, so routes can follow workflow moves only."""

from urllib.parse import urlsplit

from plugins.integrations.handlers import Refused, Rendered, hmac_hex, link, quote, same
from plugins.integrations.jira.adf import to_text

SCOPE_KEY = "projects"


def verify(*, headers, body: bytes, secrets: dict, now: float) -> None:
    secret = secrets.get("webhook_secret")
    if not secret:
        return
    given = headers.get("X-Hub-Signature", "")
    if not given.startswith("sha256="):
        raise Refused("missing signature")
    if not same(given[7:], hmac_hex(secret.encode(), body)):
        raise Refused("wrong signature")


def _status_change(payload) -> dict | None:
    for item in (payload.get("changelog") or {}).get("items") or []:
        if item.get("field") == "status":
            return item
    return None


def event_of(headers, payload) -> str:
    event = str(payload.get("webhookEvent") or "")
    if event == "jira:issue_updated" and _status_change(payload):
        return "issue_transitioned"
    return event


def delivery_id_of(headers, payload) -> str:
    return headers.get("X-Atlassian-Webhook-Identifier") or ""


def _issue(payload) -> tuple[str, str, str]:
    issue = payload.get("issue") or {}
    fields = issue.get("fields") or {}
    key = issue.get("key") or "an issue"
    parts = urlsplit(issue.get("self") or "")
    url = f"{parts.scheme}://{parts.netloc}/browse/{key}" if parts.netloc else ""
    project = (fields.get("project") or {}).get("key") or key.split("-")[0]
    return (
        link(f"{key} {fields.get('summary') or ''}".strip(), url),
        project,
        (fields.get("issuetype") or {}).get("name", "issue").lower(),
    )


def _who(person) -> str:
    return f"**{(person or {}).get('displayName') or 'someone'}**"


def _text(body) -> str:
    return to_text(body).strip() if isinstance(body, dict) else str(body or "")


def render(event: str, payload: dict) -> Rendered | None:
    label, project, kind = _issue(payload)
    user = payload.get("user")
    if event == "jira:issue_created":
        text = f"{_who(user)} created {kind} {label}"
        description = quote(_text((payload.get("issue") or {}).get("fields", {}).get("description")))
        return Rendered(text + ("\n" + description if description else ""), project)
    if event == "issue_transitioned":
        change = _status_change(payload) or {}
        return Rendered(f"{_who(user)} moved {label} from **{change.get('fromString')}** to "
                        f"**{change.get('toString')}**", project)  # fmt: skip
    if event == "jira:issue_updated":
        changed = [i.get("field") for i in (payload.get("changelog") or {}).get("items") or [] if i.get("field")]
        what = f" ({', '.join(changed)})" if changed else ""
        return Rendered(f"{_who(user)} updated {label}{what}", project)
    if event == "jira:issue_deleted":
        return Rendered(f"{_who(user)} deleted {label}", project)
    if event in ("comment_created", "comment_updated"):
        comment = payload.get("comment") or {}
        verb = "commented on" if event == "comment_created" else "edited a comment on"
        body = quote(_text(comment.get("body")))
        return Rendered(f"{_who(comment.get('author') or user)} {verb} {label}" + ("\n" + body if body else ""),
                        project)  # fmt: skip
    return None
