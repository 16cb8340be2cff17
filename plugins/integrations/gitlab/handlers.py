"""GitLab webhooks: the secret token arrives as is in X-Gitlab-Token (compared in constant time); de-duplicated on
Idempotency-Key (the same on GitLab's retries) or else X-Gitlab-Event-UUID; the event is the payload's
object_kind."""

from plugins.integrations.handlers import Refused, Rendered, first_line, link, quote, same

SCOPE_KEY = "projects"
MAX_COMMITS = 5


def verify(*, headers, body: bytes, secrets: dict, now: float) -> None:
    expected, given = secrets.get("webhook_token") or "", headers.get("X-Gitlab-Token") or ""
    if not expected or not given:
        raise Refused("missing token")
    if not same(given, expected):
        raise Refused("wrong token")


def event_of(headers, payload) -> str:
    return str(payload.get("object_kind") or payload.get("event_type") or "")


def delivery_id_of(headers, payload) -> str:
    return headers.get("Idempotency-Key") or headers.get("X-Gitlab-Event-UUID") or ""


def _who(payload) -> str:
    user = payload.get("user") or {}
    name = user.get("username") or user.get("name") or payload.get("user_username") or payload.get("user_name")
    return f"**{name or 'someone'}**"


def _project(payload) -> tuple[str, str]:
    project = payload.get("project") or {}
    path = project.get("path_with_namespace") or ""
    return path, link(path, project.get("web_url")) if path else "a project"


def _push(payload) -> Rendered:
    path, project = _project(payload)
    ref = payload.get("ref") or ""
    tag = payload.get("object_kind") == "tag_push"
    short = ref.removeprefix("refs/tags/" if tag else "refs/heads/")
    who = f"**{payload.get('user_username') or payload.get('user_name') or 'someone'}**"
    kind = "tag" if tag else "branch"
    if (payload.get("after") or "").strip("0") == "":
        return Rendered(f"{who} deleted {kind} `{short}` in {project}", path, "" if tag else short)
    commits = payload.get("commits") or []
    count = payload.get("total_commits_count", len(commits))
    if tag:
        return Rendered(f"{who} pushed tag `{short}` in {project}", path)
    lines = [f"{who} pushed {count} commit{'s' if count != 1 else ''} to `{short}` in {project}"]
    for commit in commits[:MAX_COMMITS]:
        lines.append(f"- {link('`' + (commit.get('id') or '')[:8] + '`', commit.get('url'))} "
                     f"{first_line(commit.get('message') or commit.get('title'))}")  # fmt: skip
    if count > MAX_COMMITS:
        lines.append(f"- … and {count - MAX_COMMITS} more")
    return Rendered("\n".join(lines), path, short)


def _merge_request(payload) -> Rendered:
    path, project = _project(payload)
    mr = payload.get("object_attributes") or {}
    action = mr.get("action") or mr.get("state") or "updated"
    verb = {"open": "opened", "close": "closed", "reopen": "reopened", "update": "updated", "merge": "merged",
            "approved": "approved", "unapproved": "unapproved", "approval": "approved"}.get(action, action)  # fmt: skip
    label = link(f"!{mr.get('iid')} {mr.get('title') or ''}".strip(), mr.get("url"))
    text = f"{_who(payload)} {verb} merge request {label} in {project}"
    if verb == "opened":
        text += f" (`{mr.get('source_branch', '')}` → `{mr.get('target_branch', '')}`)"
        if quote(mr.get("description")):
            text += "\n" + quote(mr.get("description"))
    return Rendered(text, path, mr.get("target_branch") or "")


def _issue(payload) -> Rendered:
    path, project = _project(payload)
    issue = payload.get("object_attributes") or {}
    action = issue.get("action") or issue.get("state") or "updated"
    verb = {"open": "opened", "close": "closed", "reopen": "reopened", "update": "updated"}.get(action, action)
    label = link(f"#{issue.get('iid')} {issue.get('title') or ''}".strip(), issue.get("url"))
    text = f"{_who(payload)} {verb} issue {label} in {project}"
    if verb == "opened" and quote(issue.get("description")):
        text += "\n" + quote(issue.get("description"))
    return Rendered(text, path)


def _note(payload) -> Rendered:
    path, project = _project(payload)
    note = payload.get("object_attributes") or {}
    kind = note.get("noteable_type") or "item"
    target = {
        "MergeRequest": ("merge request", payload.get("merge_request") or {}, "!"),
        "Issue": ("issue", payload.get("issue") or {}, "#"),
        "Commit": ("commit", payload.get("commit") or {}, ""),
        "Snippet": ("snippet", payload.get("snippet") or {}, "$"),
    }.get(kind, (kind.lower(), {}, ""))
    what, obj, sigil = target
    ident = obj.get("iid") or obj.get("id") or ""
    if what == "commit":
        ident = str(ident)[:8]
    label = link(f"{sigil}{ident} {obj.get('title') or ''}".strip() or what, note.get("url"))
    text = f"{_who(payload)} commented on {what} {label} in {project}"
    if quote(note.get("note")):
        text += "\n" + quote(note.get("note"))
    return Rendered(text, path)


def _pipeline(payload) -> Rendered:
    path, project = _project(payload)
    pipeline = payload.get("object_attributes") or {}
    status = pipeline.get("detailed_status") or pipeline.get("status") or "updated"
    icon = {"success": "✅", "passed": "✅", "failed": "❌", "canceled": "⏹", "skipped": "⏭"}.get(status, "⏳")
    ref = pipeline.get("ref") or ""
    number = pipeline.get("id")
    url = pipeline.get("url") or (payload.get("project") or {}).get("web_url", "") + f"/-/pipelines/{number}"
    text = f"{icon} {link(f'Pipeline #{number}', url)} {status} on `{ref}` in {project}"
    return Rendered(text, path, "" if pipeline.get("tag") else ref)


def _release(payload) -> Rendered:
    path, project = _project(payload)
    label = link(payload.get("name") or payload.get("tag") or "a release", payload.get("url"))
    action = {"create": "published", "update": "updated", "delete": "deleted"}.get(payload.get("action"), "updated")
    return Rendered(f"Release {label} {action} in {project}", path)


RENDERERS = {
    "push": _push,
    "tag_push": _push,
    "merge_request": _merge_request,
    "issue": _issue,
    "note": _note,
    "pipeline": _pipeline,
    "release": _release,
}


def render(event: str, payload: dict) -> Rendered | None:
    renderer = RENDERERS.get(event)
    return renderer(payload) if renderer else None
