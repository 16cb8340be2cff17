"""Inbound URLs under /hooks/: other tools call them without a session, so they are CSRF-exempt and
authenticated by their URL token plus, for the tools that sign, the signature over the raw body."""

import json
from urllib.parse import parse_qs

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from chatapp.kernel.errors import Conflict, problem_response
from plugins.integrations.services import inbound
from plugins.integrations.services.incoming import RateLimited, incoming_for_token, incoming_post

SIGNED_INTEGRATIONS = ("github", "gitlab", "jira")


def _problem(status: int, detail: str):
    return problem_response(status, detail=detail)


def _incoming_payload(request) -> dict | None:
    """JSON, or Slack's legacy form encoding (payload=<json>) that old scripts still send."""
    content_type = request.content_type or ""
    try:
        if content_type == "application/x-www-form-urlencoded":
            values = parse_qs(request.body.decode("utf-8"))
            return json.loads(values["payload"][0]) if "payload" in values else None
        return json.loads(request.body or b"null")
    except (ValueError, KeyError, UnicodeDecodeError):
        return None


@csrf_exempt
@require_POST
def incoming_webhook(request, token: str):
    hook = incoming_for_token(token)
    if hook is None:
        return _problem(404, "No such webhook.")
    payload = _incoming_payload(request)
    if not isinstance(payload, dict):
        return _problem(400, 'Send a JSON object such as {"text": "Hello"}.')
    try:
        incoming_post(hook=hook, payload=payload)
    except RateLimited as exc:
        response = _problem(429, "Too many messages; slow down.")
        response["Retry-After"] = str(exc.retry_after)
        return response
    except ValidationError as exc:
        return _problem(400, "; ".join(exc.messages))
    except Conflict as exc:  # chat refused it (an archived channel): a clear 4xx, never a 500
        return _problem(409, str(exc.detail))
    except PermissionDenied as exc:  # the bot was removed from a private channel
        return _problem(403, str(exc))
    return HttpResponse("ok", content_type="text/plain")  # what Slack answers; scripts check for it


@csrf_exempt
@require_POST
def signed_webhook(request, integration: str, token: str):
    if integration not in SIGNED_INTEGRATIONS:
        return _problem(404, "No such webhook.")
    outcome = inbound.receive(integration=integration, token=token, headers=request.headers, body=request.body)
    if outcome.status >= 400:
        return _problem(outcome.status, outcome.detail)
    return JsonResponse({"detail": outcome.detail, "posted": outcome.posted}, status=outcome.status)


def _slack(kind):
    @csrf_exempt
    @require_POST
    def view(request, token: str):
        outcome, reply = inbound.slack_receive(token=token, kind=kind, headers=request.headers, body=request.body)
        if outcome.status >= 400:
            return _problem(outcome.status, outcome.detail)
        return JsonResponse(reply) if reply else HttpResponse(status=200)

    view.__name__ = f"slack_{kind}"
    return view


slack_events, slack_commands, slack_interactivity = _slack("events"), _slack("commands"), _slack("interactivity")


@csrf_exempt
@require_POST
def teams_outgoing(request, token: str):
    """A Teams outgoing webhook: Teams shows our JSON answer as the bot's reply in the Teams channel."""
    outcome = inbound.teams_receive(token=token, headers=request.headers, body=request.body)
    if outcome.status >= 400:
        return _problem(outcome.status, outcome.detail)
    return JsonResponse({"type": "message", "text": outcome.detail})
