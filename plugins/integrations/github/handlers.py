"""GitHub webhooks: verified with X-Hub-Signature-256 over the raw body, de-duplicated on X-GitHub-Delivery,
rendered into readable Markdown. Every payload of the supported events renders to a non-empty message (tested
against every example of @octokit/webhooks-examples)."""

from plugins.integrations.handlers import Refused, Rendered, first_line, hmac_hex, link, quote, same

SCOPE_KEY = "repositories"
MAX_COMMITS = 5


def verify(*, headers, body: bytes, secrets: dict, now: float) -> None:
    secret = secrets.get("webhook_secret")
    given = headers.get("X-Hub-Signature-256", "")
    if not secret or not given.startswith("sha256="):
        raise Refused("missing signature")
    if not same(given[7:], hmac_hex(secret.encode(), body)):
        raise Refused("wrong signature")


def event_of(headers, payload) -> str:
    return headers.get("X-GitHub-Event", "")


def delivery_id_of(headers, payload) -> str:
    return headers.get("X-GitHub-Delivery", "")


def _who(payload) -> str:
    sender = payload.get("sender") or {}
    return f"**{sender.get('login') or 'someone'}**"


def _repo(payload) -> tuple[str, str]:
    repo = payload.get("repository") or {}
    name = repo.get("full_name") or ""
    return name, link(name, repo.get("html_url")) if name else "a repository"


def _push(payload) -> Rendered:
    name, repo = _repo(payload)
    ref = payload.get("ref") or ""
    kind, short = ("tag", ref[10:]) if ref.startswith("refs/tags/") else ("branch", ref.removeprefix("refs/heads/"))
    who = f"**{(payload.get('pusher') or {}).get('name') or (payload.get('sender') or {}).get('login') or 'someone'}**"
    if payload.get("deleted"):
        return Rendered(f"{who} deleted {kind} `{short}` in {repo}", name, short if kind == "branch" else "")
    commits = payload.get("commits") or []
    if payload.get("created") and not commits:
        return Rendered(f"{who} created {kind} `{short}` in {repo}", name, short if kind == "branch" else "")
    count = len(commits)
    forced = " (force-pushed)" if payload.get("forced") else ""
    head = f"{who} pushed {link(f'{count} commit' + ('s' if count != 1 else ''), payload.get('compare'))} to "
    lines = [f"{head}`{short}` in {repo}{forced}"]
    for commit in commits[:MAX_COMMITS]:
        sha = (commit.get("id") or "")[:7]
        lines.append(f"- {link(f'`{sha}`', commit.get('url'))} {first_line(commit.get('message'))}")
    if count > MAX_COMMITS:
        lines.append(f"- … and {count - MAX_COMMITS} more")
    return Rendered("\n".join(lines), name, short if kind == "branch" else "")


def _pull_request(payload) -> Rendered:
    name, repo = _repo(payload)
    pr = payload.get("pull_request") or {}
    action = payload.get("action") or "updated"
    if action == "closed" and pr.get("merged"):
        action = "merged"
    label = link(f"#{pr.get('number')} {pr.get('title') or ''}".strip(), pr.get("html_url"))
    verb = {"synchronize": "pushed to", "review_requested": "requested a review on",
            "ready_for_review": "marked ready for review", "converted_to_draft": "converted to draft"}.get(
        action, action.replace("_", " "))  # fmt: skip
    text = f"{_who(payload)} {verb} pull request {label} in {repo}"
    if action == "opened":
        text += f" (`{(pr.get('head') or {}).get('ref', '')}` → `{(pr.get('base') or {}).get('ref', '')}`)"
        body = quote(pr.get("body"))
        if body:
            text += "\n" + body
    return Rendered(text, name, (pr.get("base") or {}).get("ref", ""))


def _pull_request_review(payload) -> Rendered:
    name, repo = _repo(payload)
    pr, review = payload.get("pull_request") or {}, payload.get("review") or {}
    state = (review.get("state") or "").lower()
    verb = {"approved": "approved", "changes_requested": "requested changes on", "commented": "reviewed"}.get(
        state, f"{payload.get('action') or 'updated'} a review on"
    )
    label = link(f"#{pr.get('number')} {pr.get('title') or ''}".strip(), review.get("html_url") or pr.get("html_url"))
    text = f"{_who(payload)} {verb} pull request {label} in {repo}"
    body = quote(review.get("body"))
    return Rendered(text + ("\n" + body if body else ""), name, (pr.get("base") or {}).get("ref", ""))


def _issues(payload) -> Rendered:
    name, repo = _repo(payload)
    issue = payload.get("issue") or {}
    label = link(f"#{issue.get('number')} {issue.get('title') or ''}".strip(), issue.get("html_url"))
    action = (payload.get("action") or "updated").replace("_", " ")
    text = f"{_who(payload)} {action} issue {label} in {repo}"
    if payload.get("action") == "opened" and quote(issue.get("body")):
        text += "\n" + quote(issue.get("body"))
    if payload.get("action") in ("labeled", "unlabeled") and payload.get("label"):
        text += f" (`{payload['label'].get('name', '')}`)"
    return Rendered(text, name)


def _issue_comment(payload) -> Rendered:
    name, repo = _repo(payload)
    issue, comment = payload.get("issue") or {}, payload.get("comment") or {}
    kind = "pull request" if issue.get("pull_request") else "issue"
    label = link(f"#{issue.get('number')} {issue.get('title') or ''}".strip(), comment.get("html_url"))
    action = {"created": "commented on", "edited": "edited a comment on", "deleted": "deleted a comment on"}.get(
        payload.get("action"), "commented on"
    )
    text = f"{_who(payload)} {action} {kind} {label} in {repo}"
    if payload.get("action") != "deleted" and quote(comment.get("body")):
        text += "\n" + quote(comment.get("body"))
    return Rendered(text, name)


def _release(payload) -> Rendered:
    name, repo = _repo(payload)
    release = payload.get("release") or {}
    label = link(release.get("name") or release.get("tag_name") or "a release", release.get("html_url"))
    return Rendered(f"{_who(payload)} {payload.get('action') or 'updated'} release {label} in {repo}", name)


def _workflow_run(payload) -> Rendered:
    name, repo = _repo(payload)
    run = payload.get("workflow_run") or {}
    outcome = run.get("conclusion") or run.get("status") or payload.get("action") or "updated"
    icon = {"success": "✅", "failure": "❌", "cancelled": "⏹", "timed_out": "⌛"}.get(outcome, "⏳")
    branch = run.get("head_branch") or ""
    workflow = run.get("name") or (payload.get("workflow") or {}).get("name") or "Workflow"
    text = f"{icon} {link(workflow, run.get('html_url'))} {outcome.replace('_', ' ')}"
    text += f" on `{branch}` in {repo}" if branch else f" in {repo}"
    return Rendered(text, name, branch)


def _ping(payload) -> Rendered:
    name, repo = _repo(payload)
    return Rendered(f"GitHub webhook connected for {repo if name else 'this installation'}: _{payload.get('zen', '')}_",
                    name)  # fmt: skip


RENDERERS = {
    "push": _push,
    "pull_request": _pull_request,
    "pull_request_review": _pull_request_review,
    "issues": _issues,
    "issue_comment": _issue_comment,
    "release": _release,
    "workflow_run": _workflow_run,
    "ping": _ping,
}


def render(event: str, payload: dict) -> Rendered | None:
    """The message for a supported event, or None for events we do not render."""
    renderer = RENDERERS.get(event)
    return renderer(payload) if renderer else None
